"""Sales (products, contracts, pipelines, deals, activities) and service (tickets, SLA, CSAT)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from crm.business_hours import Hours, add_business_minutes, business_minutes_between
from customer360.models import Channel, Customer


def refuse(field: str, message) -> ValidationError:
    """A refused action as a ValidationError naming the field (API: 400 ``{field: [reason]}``)."""
    return ValidationError({field: [message]})


# --- Sales -----------------------------------------------------------------------------------------
class Product(models.Model):
    """Something a customer can own under a contract (a plan, a service package)."""

    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=40, unique=True)
    price = models.DecimalField(_("price per year (EUR)"), max_digits=12, decimal_places=2, default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContractQuerySet(models.QuerySet):
    def active(self) -> ContractQuerySet:
        return self.filter(status=Contract.Status.ACTIVE)

    def renewal_due(self, within_days: int = 90, today: date | None = None) -> ContractQuerySet:
        today = today or timezone.localdate()
        return self.active().filter(
            renewal_date__gte=today, renewal_date__lte=today + timedelta(days=within_days)
        )


class Contract(models.Model):
    """A subscription: what a customer owns, from when, and when it renews."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contracts")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="contracts")
    start = models.DateField(_("start"))
    end = models.DateField(_("end"), null=True, blank=True)
    renewal_date = models.DateField(_("renewal date"), null=True, blank=True, db_index=True)
    value_per_year = models.DecimalField(
        _("value per year (EUR)"), max_digits=12, decimal_places=2, default=0
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    renewals = models.PositiveIntegerField(default=0, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-start", "-id"]
        indexes = [models.Index(fields=["customer", "status"], name="crm_contract_customer")]

    def __str__(self) -> str:
        return f"{self.product} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("crm:contract_detail", args=[self.pk])


class Pipeline(models.Model):
    """An ordered set of stages that deals move through."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> Pipeline:
        return cls.objects.filter(is_default=True).first() or cls.objects.order_by("pk").first()


# The seeded stages' names are translation keys (shown through the ``catalogue`` template filter).
SEEDED_STAGE_NAMES = (
    gettext_noop("Qualification"),
    gettext_noop("Proposal"),
    gettext_noop("Negotiation"),
    gettext_noop("Won"),
    gettext_noop("Lost"),
)


class Stage(models.Model):
    """A step of a pipeline with its win probability; won/lost stages end a deal."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=80)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("probability %"), default=0, validators=[MaxValueValidator(100)]
    )
    is_won = models.BooleanField(_("won stage"), default=False)
    is_lost = models.BooleanField(_("lost stage"), default=False)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["pipeline", "name"], name="crm_stage_unique_name")]

    def __str__(self) -> str:
        return gettext(self.name)  # seeded stages: translation keys (SEEDED_STAGE_NAMES)

    @property
    def is_closing(self) -> bool:
        return self.is_won or self.is_lost


class DealQuerySet(models.QuerySet):
    def open(self) -> DealQuerySet:
        return self.filter(status=Deal.Status.OPEN)


class Deal(models.Model):
    """A sales opportunity with a customer, moving through the stages of a pipeline."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="deals")
    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(_("amount (EUR)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="deals"
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)
    # Counts stage changes so that each move has an idempotency key of its own.
    stage_changes = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Set by imports (crm.imports): the data source's slug and the deal's id there.
    external_source = models.CharField(max_length=80, blank=True, default="", editable=False)
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="", editable=False)

    objects = DealQuerySet.as_manager()

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="crm_deal_customer"),
            models.Index(fields=["status", "stage"], name="crm_deal_status_stage"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_id"],
                condition=~Q(external_id=""),
                name="crm_deal_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("crm:deal_detail", args=[self.pk])

    def ensure_open(self, field: str = "status") -> None:
        if self.status != self.Status.OPEN:
            raise refuse(field, _("The deal is already %(status)s.") % {"status": self.get_status_display()})


class Activity(models.Model):
    """A contact with a customer: call, meeting, e-mail, visit or note, with outcome and follow-up."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        VISIT = "visit", _("Visit")
        NOTE = "note", _("Note")

    class Outcome(models.TextChoices):
        REACHED = "reached", _("Reached")
        NO_ANSWER = "no_answer", _("No answer")
        LEFT_MESSAGE = "left_message", _("Left message")
        COMPLETED = "completed", _("Completed")
        RESCHEDULED = "rescheduled", _("Rescheduled")
        NOT_INTERESTED = "not_interested", _("Not interested")

    # kind -> (timeline event kind, channel)
    EVENTS = {
        "call": ("call.logged", Channel.PHONE),
        "meeting": ("meeting.logged", Channel.IN_PERSON),
        "email": ("email.logged", Channel.EMAIL),
        "visit": ("visit.logged", Channel.IN_PERSON),
        "note": ("note.added", Channel.INTERNAL),
    }

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    follow_up_date = models.DateField(_("follow-up"), null=True, blank=True)
    follow_up_done = models.BooleanField(_("follow-up done"), default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="activities"
    )
    deal = models.ForeignKey(
        Deal, on_delete=models.SET_NULL, null=True, blank=True, related_name="activities"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="crm_activity_customer"),
            models.Index(fields=["user", "follow_up_date"], name="crm_activity_follow_up"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("crm:activity_detail", args=[self.pk])


# --- Service ---------------------------------------------------------------------------------------
class BusinessHours(models.Model):
    """The company's business calendar SLA targets are counted in (one row; defaults when there is
    none): working hours, the public holidays of a country and state, and the closing days."""

    name = models.CharField(_("name"), max_length=80, default="Standard")
    start = models.TimeField(_("opens"), default=time(8, 0))
    end = models.TimeField(_("closes"), default=time(17, 0))
    weekdays = models.CharField(
        _("working weekdays"), max_length=7, default="01234", help_text=_("0 = Monday … 6 = Sunday")
    )
    timezone = models.CharField(_("time zone"), max_length=60, default="Europe/Vienna")
    country = models.CharField(
        _("public holidays of country"),
        max_length=2,
        blank=True,
        default="AT",
        help_text=_("ISO code, e.g. AT or DE; empty: no public holidays."),
    )
    subdivision = models.CharField(
        _("state"),
        max_length=10,
        blank=True,
        default="9",
        help_text=_("The state's code in the holidays library, e.g. 9 = Vienna, BY = Bavaria, BE = Berlin."),
    )
    holiday_categories = models.CharField(
        _("holiday categories"),
        max_length=60,
        default="public",
        help_text=_(
            "Comma-separated categories of the holidays library: public; also e.g. catholic "
            "(Assumption Day in Bavaria) or bank (Saint Leopold's Day in Vienna)."
        ),
    )

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        where = "-".join(part for part in (self.country, self.subdivision) if part)
        return f"{self.name} {self.start:%H:%M}-{self.end:%H:%M} {where}".strip()

    def clean(self) -> None:
        try:
            self.as_hours()
        except (ValueError, KeyError) as exc:
            raise ValidationError(str(exc)) from exc

    def as_hours(self, closing_days: dict | None = None) -> Hours:
        return Hours(
            start=self.start,
            end=self.end,
            weekdays=frozenset(int(d) for d in self.weekdays if d.isdigit()),
            tz=self.timezone,
            country=self.country.strip().upper(),
            subdivision=self.subdivision.strip(),
            categories=tuple(c.strip() for c in self.holiday_categories.split(",") if c.strip())
            or ("public",),
            closing_days=closing_days or {},
        )

    @classmethod
    def current(cls) -> Hours:
        """The company calendar with its closing days (two queries)."""
        row = cls.objects.order_by("pk").first()
        closing = ClosingDay.calendar()
        return row.as_hours(closing) if row else Hours(closing_days=closing)


class ClosingDay(models.Model):
    """A day the company is closed (or closes early) beyond the public holidays: set by an admin,
    e.g. 24 and 31 December, a company outing, a bridge day."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=80)
    closes_at = models.TimeField(
        _("closes at"), null=True, blank=True, help_text=_("Empty: closed all day; a time: a half day.")
    )
    every_year = models.BooleanField(
        _("every year"), default=False, help_text=_("Repeat on this day each year.")
    )

    class Meta:
        verbose_name = _("closing day")
        verbose_name_plural = _("closing days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"

    @classmethod
    def calendar(cls, today: date | None = None) -> dict[date, time | None]:
        """date -> closing time (None: all day); yearly days repeated from last year to three years ahead."""
        year = (today or timezone.localdate()).year
        days: dict[date, time | None] = {}
        for row in cls.objects.all():
            if row.every_year:
                for y in range(year - 1, year + 4):
                    try:
                        days.setdefault(row.date.replace(year=y), row.closes_at)
                    except ValueError:  # 29 February in a common year
                        continue
            days[row.date] = row.closes_at
        return days


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class SlaPolicy(models.Model):
    """Targets per priority, in business minutes."""

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, unique=True)
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["first_response_minutes"]

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: {self.first_response_minutes}/{self.resolution_minutes}"


class TicketQuerySet(models.QuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=Ticket.OPEN_STATUSES)

    def breached(self, now: datetime | None = None) -> TicketQuerySet:
        """Flagged tickets and running tickets past a due time the periodic check has not flagged yet
        (a ticket waiting for the customer has its clock paused, so it is not late while it waits)."""
        now = now or timezone.now()
        return self.filter(
            Q(sla_breached_first_response=True)
            | Q(sla_breached_resolution=True)
            | Q(
                status__in=Ticket.RUNNING_STATUSES, first_response_at__isnull=True, first_response_due__lt=now
            )
            | Q(status__in=Ticket.RUNNING_STATUSES, resolution_due__lt=now)
        )


class Ticket(models.Model):
    """A customer's request to service, with SLA due times counted in business hours."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        WAITING = "waiting", _("Waiting for customer")
        SOLVED = "solved", _("Solved")
        CLOSED = "closed", _("Closed")
        REOPENED = "reopened", _("Reopened")

    class Category(models.TextChoices):
        QUESTION = "question", _("Question")
        COMPLAINT = "complaint", _("Complaint")
        TECHNICAL = "technical", _("Technical")
        BILLING = "billing", _("Billing")
        DELIVERY = "delivery", _("Delivery")
        OTHER = "other", _("Other")

    Priority = Priority
    OPEN_STATUSES = ("new", "open", "waiting", "reopened")
    # Open statuses whose SLA clock runs; it pauses while the ticket waits for the customer.
    RUNNING_STATUSES = ("new", "open", "reopened")
    TRANSITIONS = {
        "new": {"open", "waiting", "solved"},
        "open": {"waiting", "solved"},
        "waiting": {"open", "solved"},
        "reopened": {"open", "waiting", "solved"},
        "solved": {"closed", "reopened"},
        "closed": set(),
    }

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tickets")
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    category = models.CharField(
        _("category"), max_length=12, choices=Category.choices, default=Category.QUESTION
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
    )
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_breached_first_response = models.BooleanField(_("first response SLA breached"), default=False)
    sla_breached_resolution = models.BooleanField(_("resolution SLA breached"), default=False)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    # Counts reopenings so that solve/close/CSAT of each round get idempotency keys of their own.
    reopen_count = models.PositiveIntegerField(default=0, editable=False)
    # The SLA clock pauses while the ticket waits for the customer: since when, and the business
    # minutes of all finished pauses (the due times were moved on by them).
    sla_paused_since = models.DateTimeField(_("SLA clock paused since"), null=True, blank=True)
    sla_paused_minutes = models.PositiveIntegerField(_("SLA clock paused (business minutes)"), default=0)
    # Set by imports (crm.imports): the data source's slug and the ticket's id there.
    external_source = models.CharField(max_length=80, blank=True, default="", editable=False)
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="", editable=False)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="crm_ticket_customer"),
            models.Index(fields=["status", "priority"], name="crm_ticket_status"),
            models.Index(fields=["category", "opened_at"], name="crm_ticket_category"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_id"],
                condition=~Q(external_id=""),
                name="crm_ticket_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("crm:ticket_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def sla_state(self) -> str:
        """ "breached", "paused" (waiting for the customer), "ok" or "" (no SLA), without queries."""
        if self.sla_breached_first_response or self.sla_breached_resolution:
            return "breached"
        now = timezone.now()
        if self.status in self.RUNNING_STATUSES and (
            (self.first_response_at is None and self.first_response_due and self.first_response_due < now)
            or (self.resolution_due and self.resolution_due < now)
        ):
            return "breached"
        if self.sla_paused and self.resolution_due:
            return "paused"
        return "ok" if self.resolution_due else ""

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())

    @property
    def sla_paused(self) -> bool:
        return self.status == self.Status.WAITING

    @property
    def sla_paused_hours_minutes(self) -> tuple[int, int]:
        """The finished pauses as (hours, minutes) of business time, for display."""
        return divmod(self.sla_paused_minutes, 60)

    def transition_to(self, status: str, *, at: datetime | None = None, hours: Hours | None = None) -> None:
        """Change the status in memory, or refuse with a reason naming the field "status".

        Entering "waiting" pauses the SLA clock; leaving it moves the running due times on by the
        business minutes of the pause (``hours``: the calendar, read when not given)."""
        if not self.can_become(status):
            raise refuse(
                "status",
                _("A ticket that is %(current)s cannot become %(new)s.")
                % {"current": self.get_status_display(), "new": Ticket.Status(status).label},
            )
        at = at or timezone.now()
        if status == self.Status.WAITING:
            self.sla_paused_since = at
        elif self.status == self.Status.WAITING:
            self.sla_resume(at, hours or BusinessHours.current())
        if status == self.Status.SOLVED:
            self.solved_at = at
        elif status == self.Status.CLOSED:
            self.closed_at = at
        elif status == self.Status.REOPENED:
            self.solved_at = None
            self.reopen_count += 1
        self.status = status

    def sla_resume(self, at: datetime, hours: Hours) -> int:
        """End a pause in memory: move the running due times on by its business minutes; return them."""
        if self.sla_paused_since is None:
            return 0
        paused = business_minutes_between(self.sla_paused_since, at, hours)
        self.sla_paused_since = None
        if paused:
            self.sla_paused_minutes += paused
            if self.resolution_due:
                self.resolution_due = add_business_minutes(self.resolution_due, paused, hours)
            if self.first_response_due and self.first_response_at is None:
                self.first_response_due = add_business_minutes(self.first_response_due, paused, hours)
        return paused

    def compute_due_times(self, policy: SlaPolicy | None, hours: Hours) -> None:
        """Due times from the opening, the policy and the calendar, plus the finished pauses."""
        if policy is None:
            self.first_response_due = self.resolution_due = None
            return
        paused = self.sla_paused_minutes
        first_pause = paused if self.first_response_at is None else 0
        self.first_response_due = add_business_minutes(
            self.opened_at, policy.first_response_minutes + first_pause, hours
        )
        self.resolution_due = add_business_minutes(self.opened_at, policy.resolution_minutes + paused, hours)


class TicketMessage(models.Model):
    """A reply to the customer or an internal note on a ticket."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField(_("message"))
    is_internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("ticket message")
        verbose_name_plural = _("ticket messages")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{'note' if self.is_internal else 'reply'} on #{self.ticket_id}"


class Satisfaction(models.Model):
    """The customer's rating (1-5) of a solved ticket."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="satisfaction")
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.score}"

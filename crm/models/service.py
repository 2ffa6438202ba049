"""Service: the business calendar, SLA policies, tickets with their messages and ratings."""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.business_hours import Hours, add_business_minutes, business_minutes_between
from crm.models.base import CustomerRecordQuerySet, refuse
from customer360.audit.tracking import tracked
from customer360.models import Channel, Customer, ExternalRecord


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


class TicketQuerySet(CustomerRecordQuerySet):
    def open(self) -> TicketQuerySet:
        return self.filter(status__in=Ticket.OPEN_STATUSES)

    def open_complaints(self) -> TicketQuerySet:
        """THE definition of an "open complaint" (panels, brief, conditions, NBA features, risk):
        an open ticket of the complaint category. See also :attr:`Ticket.is_open_complaint`."""
        return self.filter(Ticket.open_complaint_q())

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


@tracked
class Ticket(ExternalRecord):
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
    SOLVED_STATUSES = ("solved", "closed")
    TRANSITIONS = {
        "new": {"open", "waiting", "solved"},
        "open": {"waiting", "solved"},
        "waiting": {"open", "solved"},
        "reopened": {"open", "waiting", "solved"},
        "solved": {"closed", "reopened"},
        "closed": set(),
    }

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="tickets", verbose_name=_("customer")
    )
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
    first_response_breached_at = models.DateTimeField(_("first response breached"), null=True, blank=True)
    resolution_breached_at = models.DateTimeField(_("resolution breached"), null=True, blank=True)
    # Counts reopenings so that solve/close/CSAT of each round get idempotency keys of their own.
    reopen_count = models.PositiveIntegerField(_("times reopened"), default=0, editable=False)
    # The SLA clock pauses while the ticket waits for the customer: since when, and the business
    # minutes of all finished pauses (the due times were moved on by them).
    sla_paused_since = models.DateTimeField(_("SLA clock paused since"), null=True, blank=True)
    sla_paused_minutes = models.PositiveIntegerField(_("SLA clock paused (business minutes)"), default=0)

    objects = TicketQuerySet.as_manager()

    class Meta(ExternalRecord.Meta):
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="crm_ticket_customer"),
            models.Index(fields=["status", "priority"], name="crm_ticket_status"),
            models.Index(fields=["category", "opened_at"], name="crm_ticket_category"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("crm:ticket_detail", args=[self.pk])

    @staticmethod
    def open_complaint_q() -> Q:
        """The condition behind ``Ticket.objects.open_complaints()``, for aggregates (Count filters)."""
        return Q(status__in=Ticket.OPEN_STATUSES, category=Ticket.Category.COMPLAINT)

    @property
    def is_complaint(self) -> bool:
        return self.category == self.Category.COMPLAINT

    @property
    def is_open_complaint(self) -> bool:
        """The in-memory twin of ``Ticket.objects.open_complaints()``."""
        return self.is_open and self.is_complaint

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

    def transition_to(
        self, status: str, *, at: datetime | None = None, hours: Hours | None = None, mirror: bool = False
    ) -> None:
        """Change the status in memory, or refuse with a reason naming the field "status".

        Entering "waiting" pauses the SLA clock; leaving it moves the running due times on by the
        business minutes of the pause (``hours``: the calendar, read when not given). ``mirror``: the
        change already happened in the system an import mirrors, so it is applied, not judged."""
        if not (mirror or self.can_become(status)):
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
            self.solved_at = self.closed_at = None
            self.reopen_count += 1
        self.status = status

    def follow(
        self, status: str, *, at: datetime, solved_at: datetime | None = None, hours: Hours | None = None
    ) -> list[str]:
        """Take the status another system reports (an import) through the same transitions; return
        the statuses passed. A solved ticket reopens before it is open again; an unsolved one is solved
        (at ``solved_at``, else ``at``) before it is closed (then at the same moment)."""
        if status == self.Status.SOLVED and self.status == self.Status.CLOSED:
            self.status = status  # the other system took back the closing: nothing happens here
            return []
        steps = []
        if self.status in self.SOLVED_STATUSES and status not in self.SOLVED_STATUSES:
            steps.append(self.Status.REOPENED)
        if status in self.SOLVED_STATUSES and self.status not in self.SOLVED_STATUSES:
            steps.append(self.Status.SOLVED)
        steps.append(status)
        passed: list[str] = []
        for step in dict.fromkeys(steps):
            if step == self.status:
                continue
            when = (solved_at or at) if step == self.Status.SOLVED else at
            if step == self.Status.CLOSED and self.Status.SOLVED in passed:
                when = self.solved_at
            self.transition_to(step, at=when, hours=hours, mirror=True)
            passed.append(step)
        return passed

    def note_reply(self, at: datetime) -> list[str]:
        """A reply reached the customer: the first one answers the first-response SLA, and a new or
        reopened ticket is open from now on. Returns the changed fields."""
        changed = []
        if self.first_response_at is None:
            self.first_response_at = at
            changed.append("first_response_at")
        if self.status in (self.Status.NEW, self.Status.REOPENED):
            self.status = self.Status.OPEN
            changed.append("status")
        return changed

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

"""Sales: products, contracts, pipelines and stages, deals, activities (calls, meetings, ...)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from crm.models.base import CustomerRecordQuerySet, refuse
from customer360.audit.tracking import tracked
from customer360.models import Customer, ExternalRecord


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


class ContractQuerySet(CustomerRecordQuerySet):
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

    @staticmethod
    def default_renewal(start: date, end: date | None = None) -> date:
        """A contract renews at its end, or else one year after its start."""
        if end:
            return end
        try:
            return start.replace(year=start.year + 1)
        except ValueError:  # 29 February
            return start.replace(year=start.year + 1, day=28)

    def cancel(self, *, at: datetime | None = None, end: date | None = None) -> bool:
        """Cancel in memory; False when it is cancelled already (a retry), refused unless active."""
        if self.status == self.Status.CANCELLED:
            return False
        if self.status != self.Status.ACTIVE:
            raise refuse("status", gettext("Only an active contract can be cancelled."))
        self.status = self.Status.CANCELLED
        self.cancelled_at = at or timezone.now()
        self.end = end or self.renewal_date or timezone.localdate()
        return True

    def renew(self, renewal_date: date | None = None) -> bool:
        """Renew in memory to ``renewal_date`` (default: one year after the current one); False when
        that date is set already (a retry), refused unless active or when the date is not later."""
        if self.status != self.Status.ACTIVE:
            raise refuse("status", gettext("Only an active contract can be renewed."))
        if renewal_date and renewal_date == self.renewal_date:
            return False
        new_date = renewal_date or self.default_renewal(self.renewal_date or timezone.localdate())
        if self.renewal_date and new_date <= self.renewal_date:
            raise refuse("renewal_date", gettext("The new renewal date must lie after the current one."))
        self.renewal_date = new_date
        if self.end:
            self.end = new_date
        self.renewals += 1
        return True


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


class DealQuerySet(CustomerRecordQuerySet):
    def open(self) -> DealQuerySet:
        return self.filter(status=Deal.Status.OPEN)


@tracked
class Deal(ExternalRecord):
    """A sales opportunity with a customer, moving through the stages of a pipeline."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="deals", verbose_name=_("customer")
    )
    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(_("amount (EUR)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals", verbose_name=_("stage"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
        verbose_name=_("owner"),
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    lost_reason = models.CharField(_("lost reason"), max_length=300, blank=True)
    # Counts stage changes so that each move has an idempotency key of its own.
    stage_changes = models.PositiveIntegerField(_("stage changes"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = DealQuerySet.as_manager()

    class Meta(ExternalRecord.Meta):
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="crm_deal_customer"),
            models.Index(fields=["status", "stage"], name="crm_deal_status_stage"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("crm:deal_detail", args=[self.pk])

    def ensure_open(self, field: str = "status") -> None:
        if self.status != self.Status.OPEN:
            raise refuse(field, _("The deal is already %(status)s.") % {"status": self.get_status_display()})

    def move_to_stage(self, stage: Stage) -> str | None:
        """Move an open deal to another open stage of its pipeline in memory; return the previous
        stage's name, or None when it is there already (a retried move changes nothing)."""
        self.ensure_open()
        if stage.pipeline_id != self.stage.pipeline_id:
            raise refuse("stage", gettext("The stage belongs to another pipeline."))
        if stage.is_closing:
            raise refuse("stage", gettext("Use the won/lost actions to close a deal."))
        if stage.pk == self.stage_id:
            return None
        previous = self.stage.name
        self.stage = stage
        self.stage_changes += 1
        return previous

    def closing_stage(self, *, won: bool) -> Stage:
        """The pipeline's won (or lost) stage; the current stage when the pipeline has none."""
        flag = {"is_won": True} if won else {"is_lost": True}
        stage = Stage.objects.filter(pipeline_id=self.stage.pipeline_id, **flag).order_by("order").first()
        return stage or self.stage

    def win(self, *, stage: Stage | None = None, at: datetime | None = None) -> bool:
        """Close as won in memory; False when won already, refused when lost. ``stage``: the won
        stage (read from the pipeline when not given)."""
        return self._close(self.Status.WON, stage=stage, at=at)

    def lose(
        self, *, reason: str, stage: Stage | None = None, at: datetime | None = None, mirror: bool = False
    ) -> bool:
        """Close as lost with a reason in memory; False when lost already, refused when won.
        ``mirror``: another system closed it (an import), which may not have said why."""
        reason = (reason or "").strip()
        if not reason and not mirror:
            raise refuse("lost_reason", gettext("Say why the deal was lost."))
        if self.status == self.Status.LOST:
            return False
        self.lost_reason = reason[:300]
        return self._close(self.Status.LOST, stage=stage, at=at)

    def _close(self, status: str, *, stage: Stage | None, at: datetime | None) -> bool:
        if self.status == status:
            return False
        self.ensure_open()
        self.stage = stage or self.closing_stage(won=status == self.Status.WON)
        self.status = status
        self.closed_at = at or timezone.now()
        return True


@tracked
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

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="activities", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CALL)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    follow_up_date = models.DateField(_("follow-up"), null=True, blank=True)
    follow_up_done = models.BooleanField(_("follow-up done"), default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("logged by"),
    )
    deal = models.ForeignKey(
        Deal,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("deal"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = CustomerRecordQuerySet.as_manager()

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

    def ensure_valid(self) -> None:
        """Refuse an activity of an unknown kind, without a subject, or on another customer's deal."""
        if self.kind not in self.Kind.values:
            raise refuse("kind", gettext("Unknown activity kind."))
        if not (self.subject or "").strip():
            raise refuse("subject", gettext("A subject is required."))
        if self.deal is not None and self.deal.customer_id != self.customer_id:
            raise refuse("deal", gettext("The deal belongs to another customer."))

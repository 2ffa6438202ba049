"""Marketing: consent and its proof, segments over every department's facts, campaigns and touches."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customer360 import conditions
from customer360.audit.tracking import tracked
from customer360.models import Customer


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    LETTER = "letter", _("Letter")
    SMS = "sms", _("SMS")


class Purpose(models.TextChoices):
    NEWSLETTER = "newsletter", _("Newsletter")
    OFFERS = "offers", _("Offers")
    SURVEYS = "surveys", _("Surveys")


class ConsentQuerySet(models.QuerySet):
    def active(self) -> ConsentQuerySet:
        """Grants that allow contact now; e-mail only after the double opt-in was confirmed."""
        return self.filter(status=Consent.Status.GRANTED).filter(
            ~Q(channel=ConsentChannel.EMAIL) | Q(confirmed_at__isnull=False)
        )

    def allows(self, channel: str, purpose: str):
        """Customers with an active grant for ``channel`` and ``purpose``."""
        return Customer.objects.filter(
            pk__in=self.active().filter(channel=channel, purpose=purpose).values("customer_id")
        )

    def of_visible_customers(self, user) -> ConsentQuerySet:
        return self.filter(customer__in=Customer.objects.visible_to(user))


@tracked
class Consent(models.Model):
    """Whether a customer lets us contact them on one channel for one purpose, with the proof.

    One row per (customer, channel, purpose) holds the current state; every change is also kept as
    a :class:`ConsentChange`, so the proof of an earlier grant is never lost by a later withdrawal.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (awaiting confirmation)")
        GRANTED = "granted", _("Granted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Method(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        PHONE = "phone", _("Phone")
        PAPER = "paper", _("Paper")
        IMPORT = "import", _("Import")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consents", verbose_name=_("customer")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    granted_at = models.DateTimeField(_("granted"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True, help_text=_("e.g. the form's URL"))
    wording_version = models.CharField(_("wording version"), max_length=40, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed (double opt-in)"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawal_reason = models.CharField(_("withdrawal reason"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["customer_id", "channel", "purpose"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "channel", "purpose"], name="mkt_consent_unique"),
        ]
        indexes = [models.Index(fields=["channel", "purpose", "status"], name="mkt_consent_lookup")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.channel}/{self.purpose}: {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("marketing:customer_consent", args=[self.customer_id])

    @property
    def is_active(self) -> bool:
        if self.status != self.Status.GRANTED:
            return False
        return self.channel != ConsentChannel.EMAIL or self.confirmed_at is not None

    @property
    def label(self) -> str:
        return f"{self.get_channel_display()} {self.get_purpose_display().lower()}"


class ConsentWording(models.Model):
    """The text a person was shown when they consented, per wording version and language: the
    proof of WHAT they agreed to (``Consent.wording_version`` names the version)."""

    version = models.CharField(_("version"), max_length=40)
    language = models.CharField(_("language"), max_length=8, default="de")
    text = models.TextField(_("text shown"))
    valid_from = models.DateField(_("valid from"), default=timezone.localdate)

    class Meta:
        verbose_name = _("consent wording")
        verbose_name_plural = _("consent wordings")
        ordering = ["-valid_from", "version", "language"]
        constraints = [
            models.UniqueConstraint(fields=["version", "language"], name="mkt_wording_version_language"),
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.language})"


class ConsentChange(models.Model):
    """One change of a consent (old -> new status) with who did it and the proof at that moment."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField(_("changed"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    old_status = models.CharField(_("old status"), max_length=10, blank=True)
    new_status = models.CharField(_("new status"), max_length=10)
    method = models.CharField(_("method"), max_length=10, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    wording_version = models.CharField(_("wording version"), max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.consent_id}: {self.old_status or '-'} -> {self.new_status}"

    # The history shows the statuses and the method in the reader's language, not their codes.
    @property
    def old_status_label(self) -> str:
        return (
            Consent.Status(self.old_status).label
            if self.old_status in Consent.Status.values
            else self.old_status
        )

    @property
    def new_status_label(self) -> str:
        return (
            Consent.Status(self.new_status).label
            if self.new_status in Consent.Status.values
            else self.new_status
        )

    @property
    def method_label(self) -> str:
        return Consent.Method(self.method).label if self.method in Consent.Method.values else self.method


class Segment(models.Model):
    """A saved rule set over customers, e.g. "Vienna, invoices overdue > 30 days, no open complaint".

    ``rules`` is a JSON list of ``{"field": <condition key>, "op": <operator>, "value": ...}``
    combined with ``match`` (all / any). Fields are keys of the core conditions registry, so the
    rules reach the facts of every department without importing them. With ``requires_channel``
    and ``requires_purpose`` set, only customers who currently allow that contact are members.
    """

    class Match(models.TextChoices):
        ALL = "all", _("all rules (AND)")
        ANY = "any", _("any rule (OR)")

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    match = models.CharField(_("match"), max_length=3, choices=Match.choices, default=Match.ALL)
    rules = models.JSONField(_("rules"), default=list, blank=True)
    requires_channel = models.CharField(
        _("requires consent: channel"), max_length=10, choices=ConsentChannel.choices, blank=True
    )
    requires_purpose = models.CharField(
        _("requires consent: purpose"), max_length=12, choices=Purpose.choices, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:segment_edit", args=[self.pk])

    @property
    def required_consent(self) -> tuple[str, str] | None:
        if self.requires_channel and self.requires_purpose:
            return self.requires_channel, self.requires_purpose
        return None

    def members(self, base=None, *, depth: int = 0):
        """Customers matching the rules (within ``base``, e.g. ``visible_to(user)``)."""
        return segment_members(
            rules=self.rules, match=self.match, required_consent=self.required_consent, base=base, depth=depth
        )


def segment_members(
    *, rules, match: str = "all", required_consent: tuple[str, str] | None = None, base=None, depth: int = 0
) -> models.QuerySet:
    """Customers matching ``rules`` (compiled by the core's condition compiler); with
    ``required_consent`` only those who currently allow that contact. Raises
    ``customer360.conditions.RuleError`` naming each bad rule."""
    customers = conditions.matching(conditions.from_rules(rules, match), base=base, depth=depth)
    if required_consent:
        channel, purpose = required_consent
        customers = customers.filter(
            pk__in=Consent.objects.active().filter(channel=channel, purpose=purpose).values("customer_id")
        )
    return customers


class CampaignQuerySet(models.QuerySet):
    def with_funnel(self) -> CampaignQuerySet:
        """Annotate distinct customers per touch status (one query for a whole list)."""
        annotations = {
            f"n_{status}": models.Count("touches__customer", filter=Q(touches__status=status), distinct=True)
            for status in Touch.Status.values
        }
        return self.annotate(**annotations)


class Campaign(models.Model):
    """A mailing, call or letter campaign on one channel for one purpose to a segment's members."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=120)
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    audience = models.ForeignKey(
        Segment,
        verbose_name=_("audience"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    starts_at = models.DateTimeField(_("starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="mkt_campaign_status")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("marketing:campaign_detail", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in {self.Status.DRAFT, self.Status.SCHEDULED}


@tracked
class Touch(models.Model):
    """One status change of a campaign for one customer (sent, opened, clicked, ...).

    Every row has exactly one timeline event. Repeated opens or clicks are separate rows that the
    caller tells apart with ``external_id`` (e.g. the mail provider's event id); a retry with the
    same id is the same row, so a retried webhook never counts twice.
    """

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        CONVERTED = "converted", _("Converted")
        BOUNCED = "bounced", _("Bounced")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="touches", verbose_name=_("campaign")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="campaign_touches", verbose_name=_("customer")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    occurred_at = models.DateTimeField(_("occurred"), default=timezone.now)
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")

    class Meta:
        verbose_name = _("touch")
        verbose_name_plural = _("touches")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer", "status", "external_id"], name="mkt_touch_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status", "occurred_at"], name="mkt_touch_customer"),
            models.Index(fields=["status", "occurred_at"], name="mkt_touch_status"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.customer_id}: {self.status}"

    def get_absolute_url(self) -> str:
        return reverse("marketing:campaign_detail", args=[self.campaign_id])

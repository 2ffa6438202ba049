"""Next best action: the action catalogue, its rules, the contact policy, models and recommendations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from customer360.audit.tracking import tracked
from customer360.models import Channel, Customer, Department, Job


class Action(models.Model):
    """Something a rep (or a department) can do for a customer, with the rules that allow it.

    ``priority = propensity x value x context weight x lever``; value is fixed or taken from a
    feature (``value_feature`` x ``value_factor``, never below ``value_fixed``).
    """

    key = models.SlugField(_("key"), max_length=60, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_de = models.CharField(_("name (German)"), max_length=120)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_de = models.TextField(_("description (German)"), blank=True)
    talking_points_en = models.TextField(
        _("talking points (English)"), blank=True, help_text=_("One per line.")
    )
    talking_points_de = models.TextField(
        _("talking points (German)"), blank=True, help_text=_("One per line.")
    )
    department = models.CharField(_("owning department"), max_length=20, choices=Department.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE)
    is_offer = models.BooleanField(
        _("is an offer"),
        default=False,
        help_text=_(
            "Offers need the customer's consent for this channel and purpose, count against the "
            "contact cap and are never made during an open complaint or high dunning level."
        ),
    )
    purpose = models.CharField(_("consent purpose"), max_length=40, blank=True, default="offers")
    is_no_contact = models.BooleanField(
        _("means 'no contact now'"),
        default=False,
        help_text=_("Recommended when nothing else serves the customer better."),
    )
    value_fixed = models.FloatField(_("value (fixed)"), default=100.0)
    value_feature = models.CharField(_("value from feature"), max_length=80, blank=True)
    value_factor = models.FloatField(_("value factor"), default=1.0)
    lever = models.FloatField(
        _("business lever"), default=1.0, help_text=_("Multiplies the priority; 0 switches the action off.")
    )
    prior = models.FloatField(
        _("prior propensity"), default=0.1, help_text=_("Used until the model has enough outcomes.")
    )
    exploration_share = models.FloatField(
        _("exploration share"),
        default=0.05,
        help_text=_("Share of eligible customers who get this action tried while it has no model."),
    )
    min_outcomes = models.PositiveIntegerField(_("outcomes needed for a model"), default=200)
    # Training labels from outcomes departments record, e.g. kind "call.logged", topic "term_deposit".
    label_kind = models.CharField(_("outcome event kind"), max_length=60, blank=True)
    label_topic = models.CharField(_("outcome event topic"), max_length=80, blank=True)
    label_positive = models.CharField(
        _("positive outcomes"), max_length=200, blank=True, help_text=_("Comma-separated, e.g. accepted,won")
    )
    success_kinds = models.CharField(
        _("success event kinds"),
        max_length=300,
        blank=True,
        help_text=_("Comma-separated event kinds that count as success after an accepted recommendation."),
    )
    validation = models.CharField(
        _("validation"),
        max_length=12,
        choices=[("time", _("time-based hold-out")), ("stratified", _("stratified hold-out"))],
        default="time",
    )
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveIntegerField(default=100)

    class Meta:
        verbose_name = _("action")
        verbose_name_plural = _("actions")
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.name(get_language() or "en")  # the reader's language, wherever an action is named

    def name(self, language: str = "en") -> str:
        return self.name_de if language.startswith("de") and self.name_de else self.name_en

    def description(self, language: str = "en") -> str:
        return (
            self.description_de if language.startswith("de") and self.description_de else self.description_en
        )

    def talking_points(self, language: str = "en") -> list[str]:
        text = self.talking_points_de if language.startswith("de") and self.talking_points_de else None
        text = text or self.talking_points_en
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def positive_outcomes(self) -> list[str]:
        return [p.strip() for p in self.label_positive.split(",") if p.strip()]

    @property
    def success_kind_list(self) -> list[str]:
        return [p.strip() for p in self.success_kinds.split(",") if p.strip()]


class ActionRule(models.Model):
    """One declarative condition over customer features: ``field op value``.

    Eligibility and applicability rules must all hold (rules sharing a non-zero "any-of group"
    need only one of them); suitability rules multiply the context weight by ``weight`` when they hold.
    """

    class Kind(models.TextChoices):
        ELIGIBILITY = "eligibility", _("Eligibility (must hold)")
        APPLICABILITY = "applicability", _("Applicability (must hold)")
        SUITABILITY = "suitability", _("Suitability (weights)")

    class Op(models.TextChoices):
        EQ = "eq", "="
        NE = "ne", "≠"
        GT = "gt", ">"
        GTE = "gte", "≥"
        LT = "lt", "<"
        LTE = "lte", "≤"
        IN = "in", _("is one of")
        NOT_IN = "not_in", _("is none of")
        TRUE = "true", _("is true")
        FALSE = "false", _("is false")

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="rules")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ELIGIBILITY)
    field = models.CharField(
        _("fact"),
        max_length=120,
        help_text=_("A feature name, or 'condition:<key>' for a registered condition."),
    )
    op = models.CharField(_("operator"), max_length=10, choices=Op.choices, default=Op.EQ)
    value = models.CharField(_("value"), max_length=200, blank=True, help_text=_("Lists comma-separated."))
    weight = models.FloatField(_("weight"), default=1.0)
    group = models.PositiveSmallIntegerField(_("any-of group"), default=0)
    reason_en = models.CharField(_("reason (English)"), max_length=200, blank=True)
    reason_de = models.CharField(_("reason (German)"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["action", "kind", "group", "id"]

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "field": self.field,
            "op": self.op,
            "value": self.value,
            "weight": self.weight,
            "group": self.group,
            "reason_en": self.reason_en,
            "reason_de": self.reason_de,
        }


class ContactPolicy(models.Model):
    """The one contact policy (a single row): caps, cool-downs, expiry and the random hold-out."""

    max_offers = models.PositiveIntegerField(_("offers per customer per period"), default=2)
    period_days = models.PositiveIntegerField(_("period (days)"), default=30)
    cooldown_days = models.PositiveIntegerField(_("cool-down after a dismissal (days)"), default=30)
    expiry_days = models.PositiveIntegerField(_("open recommendations expire after (days)"), default=14)
    offer_block_dunning_level = models.PositiveSmallIntegerField(_("no offers from dunning level"), default=2)
    holdout_share = models.FloatField(_("hold-out share"), default=0.05)
    holdout_salt = models.CharField(_("hold-out salt"), max_length=40, default="nba-holdout-1")
    top_n = models.PositiveSmallIntegerField(_("recommendations per customer"), default=3)
    no_contact_days = models.PositiveSmallIntegerField(
        _("no contact when last contact within (days)"), default=0
    )

    class Meta:
        verbose_name = _("contact policy")
        verbose_name_plural = _("contact policy")

    def __str__(self) -> str:
        return str(_("Contact policy"))

    @classmethod
    def current(cls) -> ContactPolicy:
        policy = cls.objects.order_by("pk").first()
        return policy or cls.objects.create()


class ModelVersion(models.Model):
    """A trained model, stored as a joblib file with its metrics: the propensity model of one action,
    or (``action`` empty) the model of a learned outcome such as churn or payment risk."""

    action = models.ForeignKey(
        Action, on_delete=models.CASCADE, related_name="model_versions", null=True, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=80, blank=True, db_index=True)
    version = models.PositiveIntegerField()
    #: the artifact's name in the file storage (customer360/files); older versions hold a local path
    path = models.CharField(max_length=300)
    #: sha256 of the stored artifact: a worker checks it before it uses the model
    sha256 = models.CharField(max_length=64, blank=True)
    n = models.PositiveIntegerField(default=0)
    auc = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    data_hash = models.CharField(max_length=64)
    trained_at = models.DateTimeField(default=timezone.now)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")
        ordering = ["action", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["action", "version"], name="insights_model_version_unique"),
            models.UniqueConstraint(
                fields=["outcome", "version"],
                condition=Q(action__isnull=True),
                name="insights_outcome_version_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"

    @property
    def key(self) -> str:
        """The action's key, or the outcome's."""
        return self.action.key if self.action_id else self.outcome

    @property
    def label(self) -> str:
        """How a score names its model, e.g. "churn_risk v3"."""
        return f"{self.key} v{self.version}"


class OutcomeDefinition(models.Model):
    """An outcome of the company's own, defined by an admin in the app: what marks success (an event
    of a declared kind within a horizon, or an imported attribute's value), which feature columns the
    model may use, its last hold-out evaluation, and whether it is scored (``is_active``).

    Learned and scored like churn and payment risk (insights.outcomes): its score kind is
    ``outcome:<key>`` in the core's score table, for every current customer on every scoring run.
    """

    class Success(models.TextChoices):
        EVENT = "event", _("An event of a kind happens within the horizon")
        ATTRIBUTE = "attribute", _("An imported attribute has one of the values")

    key = models.SlugField(
        _("key"), max_length=60, unique=True, help_text=_("Letters, digits, - and _; names the score.")
    )
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_de = models.CharField(_("name (German)"), max_length=120)
    success = models.CharField(_("success is"), max_length=12, choices=Success.choices, default=Success.EVENT)
    event_kind = models.CharField(_("event kind"), max_length=60, blank=True)
    horizon_days = models.PositiveIntegerField(_("horizon (days)"), default=90)
    attribute = models.CharField(_("attribute"), max_length=80, blank=True)
    attribute_values = models.CharField(
        _("values meaning success"), max_length=200, blank=True, help_text=_("Comma-separated, e.g. yes")
    )
    features = models.JSONField(_("feature columns"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=False)
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    evaluated_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("outcome")
        verbose_name_plural = _("outcomes")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name(get_language() or "en")

    def name(self, language: str = "en") -> str:
        return self.name_de if language.startswith("de") and self.name_de else self.name_en

    @property
    def score_kind(self) -> str:
        from customer360.scores import outcome_kind

        return outcome_kind(self.key)

    @property
    def success_values(self) -> list[str]:
        return [v.strip().lower() for v in self.attribute_values.split(",") if v.strip()]


class ScoringRun(models.Model):
    """A batch rescoring of all customers, split into chunks that workers claim."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="scoring_run")
    chunk_size = models.PositiveIntegerField(default=2000)
    created_at = models.DateTimeField(default=timezone.now)
    # The queue its chunks go to ("" = the default), the last finished chunk, and how often a run
    # without progress had its open chunks sent again (``services.scoring_reclaim_stalled``).
    queue = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    reclaims = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"scoring run #{self.pk}"


class ScoringChunk(models.Model):
    """One chunk of a batch: customers with ids in ``[first_id, last_id]``; ``done`` claims it once."""

    run = models.ForeignKey(ScoringRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField()
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="insights_chunk_unique")]

    def __str__(self) -> str:
        return f"chunk {self.index} of run {self.run_id}"


class CustomerScore(models.Model):
    """When a customer was last scored, by which run, and whether they are in the hold-out."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    run = models.ForeignKey(ScoringRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    scored_at = models.DateTimeField()
    holdout = models.BooleanField(default=False)
    candidates = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"customer {self.customer_id} scored {self.scored_at:%Y-%m-%d %H:%M}"


# Priority bands for people: priority is roughly the expected value in EUR (propensity x value)
# weighted by context and lever, so fixed thresholds read the same on every page.
PRIORITY_BANDS = (("high", 300.0), ("medium", 100.0), ("low", float("-inf")))
BAND_LABELS = {"high": _("High priority"), "medium": _("Medium priority"), "low": _("Low priority")}


class RecommendationQuerySet(models.QuerySet):
    def visible_to(self, user) -> RecommendationQuerySet:
        return self.filter(customer__in=Customer.objects.visible_to(user))

    def open(self) -> RecommendationQuerySet:
        return self.filter(status=Recommendation.Status.OPEN)

    def in_band(self, band: str) -> RecommendationQuerySet:
        """Recommendations whose priority falls in the band ("high", "medium" or "low")."""
        bounds = dict(PRIORITY_BANDS)
        if band not in bounds:
            return self
        names = [name for name, _low in PRIORITY_BANDS]
        index = names.index(band)
        queryset = self.filter(priority__gte=bounds[band]) if band != "low" else self
        if index > 0:
            queryset = queryset.filter(priority__lt=bounds[names[index - 1]])
        return queryset


@tracked
class Recommendation(models.Model):
    """An action recommended for a customer, with why, and what the rep did with it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DISMISSED = "dismissed", _("Dismissed")
        COMPLETED = "completed", _("Completed")
        EXPIRED = "expired", _("Expired")
        SUPERSEDED = "superseded", _("Superseded")

    class DismissReason(models.TextChoices):
        NOT_RELEVANT = "not_relevant", _("Not relevant")
        BAD_TIMING = "bad_timing", _("Bad timing")
        DECLINED = "declined", _("Customer declined")
        OTHER = "other", _("Other")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success (customer took it)")
        FAILURE = "failure", _("No success")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="recommendations", verbose_name=_("customer")
    )
    action = models.ForeignKey(
        Action, on_delete=models.CASCADE, related_name="recommendations", verbose_name=_("action")
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    rank = models.PositiveSmallIntegerField(_("rank"), default=1)
    priority = models.FloatField(_("priority"), default=0)
    propensity = models.FloatField(_("propensity"), default=0)
    value = models.FloatField(_("value"), default=0)
    context_weight = models.FloatField(_("context weight"), default=1)
    lever = models.FloatField(_("lever"), default=1)
    is_exploration = models.BooleanField(_("exploration"), default=False)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("model version")
    )
    run = models.ForeignKey(
        ScoringRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("scoring run"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    scored_at = models.DateTimeField(_("scored"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    dismiss_reason = models.CharField(
        _("reason for dismissing"), max_length=20, choices=DismissReason.choices, blank=True
    )
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)

    objects = RecommendationQuerySet.as_manager()

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["customer", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "action"], condition=Q(status="open"), name="insights_one_open_per_action"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="insights_rec_customer"),
            models.Index(fields=["status", "created_at"], name="insights_rec_status"),
            models.Index(fields=["action", "status"], name="insights_rec_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action.key} for customer {self.customer_id} ({self.status})"

    @property
    def band(self) -> str:
        """ "high", "medium" or "low" (see ``PRIORITY_BANDS``)."""
        return next(name for name, low in PRIORITY_BANDS if self.priority >= low)

    @property
    def band_label(self) -> str:
        return str(BAND_LABELS[self.band])

    @property
    def expected_value(self) -> float:
        """What the action is expected to bring: the chance the customer takes it times its value."""
        return self.propensity * self.value

    @property
    def is_closed_by_engine(self) -> bool:
        """Superseded by a rescoring or expired: nobody decided it, the engine moved on."""
        return self.status in (self.Status.SUPERSEDED, self.Status.EXPIRED)

    def reason_texts(self, language: str = "en") -> list[str]:
        key = "de" if language.startswith("de") else "en"
        return [r.get(key) or r.get("en", "") for r in self.reasons]

"""Models of dashboards (daily roll-ups) and listening (messages, topics, sentiment, categories)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Ticket
from customer360.models import Customer


# --- Dashboards -------------------------------------------------------------------------------------
class Dimensions(models.Model):
    """The dashboard filters' dimensions of a roll-up row: the customer's owner, country and segment
    at refresh time (``Filters.rollup_q`` filters on them). ``owner_id`` 0 means "no owner"."""

    owner_id = models.BigIntegerField(default=0)
    country = models.CharField(max_length=2, blank=True, default="")
    segment = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        abstract = True


class DailyRollup(Dimensions):
    """One day of one metric, split by a key (e.g. "campaign:status") and the dashboard filters'
    dimensions (the customer's owner, country and segment at refresh time).

    Written only by ``services.rollups_refresh``; dashboards sum these rows instead of scanning the
    timeline or the large department tables during a request. ``owner_id`` 0 means "no owner" (a
    real value, so the unique constraint also holds for unowned customers on PostgreSQL).
    """

    day = models.DateField()
    metric = models.CharField(max_length=40)
    key = models.CharField(max_length=120, blank=True, default="")
    count = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("daily roll-up")
        verbose_name_plural = _("daily roll-ups")
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "day", "key", "owner_id", "country", "segment"],
                name="analytics_rollup_unique",
            )
        ]
        indexes = [models.Index(fields=["metric", "day"], name="analytics_rollup_metric_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} {self.key}: {self.count}"


class CustomerRevenue(Dimensions):
    """Gross invoiced per customer and issue date (drafts and cancelled invoices excluded) plus the
    orders of that day in the base currency (cancellations subtract), with the
    customer's owner, country and segment at refresh time (as in ``DailyRollup``).

    Revenue concentration ranks every customer of a period; these narrow rows spare it grouping the
    invoices (joined to customers for the filters) during a request. ``amount`` is a float on
    purpose: PostgreSQL sums floats several times faster than numerics, and period sums are rounded
    back to cents so that equal revenues stay equal (ties decide who is in a top share). Written only
    by ``customer_rollups.customer_revenue_rebuild``.
    """

    # No separate index on customer_id: the unique constraint's index starts with it.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    amount = models.FloatField(default=0)
    # The customer's revenue days before and after this one: the row is the customer's only one in
    # a period [a, b] when previous_day < a and next_day > b, and then its amount is the customer's
    # revenue in it, and the customer need not be grouped. The defaults mean "not known": such a
    # row is grouped.
    previous_day = models.DateField(default=date.max)
    next_day = models.DateField(default=date.min)
    # One step further: with the amount of the day before, a customer with two revenue days in [a, b]
    # is answered by the later row alone (its previous day lies in it, the day before that does not),
    # and the earlier row is skipped (the day after its next one lies beyond b). Most customers with
    # several days in a period have two. The defaults mean "not known" (rows written before these
    # columns existed, until the nightly full refresh): both rows are grouped.
    previous_amount = models.FloatField(default=0)
    second_previous_day = models.DateField(default=date.max)
    second_next_day = models.DateField(default=date.min)
    # The customer's first and last revenue day, its revenue up to and including this day
    # (``running``) and from this day on (``rest``). A customer with three days or more in [a, b] is
    # answered by one row when all its days before b lie in it (first_day >= a: the running total of
    # its last day in it) or all its days from a on (last_day <= b: the rest of its first day in it);
    # any other customer by two rows, the running totals of its last day in the period and of the
    # day before its first (read off its first day in it). The defaults mean "not known" (rows
    # written before these columns existed, until the nightly full refresh): the customer's rows
    # in the period are summed.
    first_day = models.DateField(default=date.min)
    last_day = models.DateField(default=date.max)
    running = models.FloatField(default=0)
    rest = models.FloatField(default=0)

    class Meta:
        verbose_name = _("customer revenue")
        verbose_name_plural = _("customer revenues")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="analytics_revenue_customer_day")
        ]
        indexes = [
            models.Index(fields=["day"], name="analytics_revenue_day"),
            # Each customer's final revenue day: a customer whose days all lie in a period [a, b]
            # (first_day >= a, its final day <= b) has the running total of that day as its revenue.
            # With the dimensions included, those customers are counted from this index alone.
            models.Index(
                fields=["first_day", "day"],
                include=["running", "owner_id", "country", "segment"],
                condition=models.Q(next_day=date.max),
                name="analytics_revenue_final",
            ),
            # The other customers' days in such a period, when they are few: those of the customers
            # who started before it or go on after it.
            models.Index(fields=["first_day"], name="analytics_revenue_first_day"),
            models.Index(fields=["last_day"], name="analytics_revenue_last_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.customer_id}: {self.amount:.2f}"


class PeriodRevenue(Dimensions):
    """Each customer's revenue in each preset period ("Last 30 days" ...) as of ``day`` (a snapshot,
    rebuilt whole when the revenue or the day changes), with the ``band`` it falls in: revenues of
    one band lie within a factor of ``customer_rollups.BAND_RATIO``. The revenue concentration of a
    preset period counts customers and revenue per band from ``DailyRollup`` rows (additive over
    the filters) and ranks only the customers of the band a top share ends in, from these rows.
    """

    period = models.CharField(max_length=3)
    day = models.DateField()
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    revenue = models.FloatField()
    band = models.SmallIntegerField()

    class Meta:
        verbose_name = _("revenue in a period")
        verbose_name_plural = _("revenues in a period")
        indexes = [
            models.Index(fields=["period", "band", "revenue"], name="analytics_period_revenue_band"),
            # Erasure and the cascade from a deleted customer.
            models.Index(fields=["customer"], name="analytics_period_revenue_cust"),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.day} {self.customer_id}: {self.revenue:.2f}"


class YearRevenue(Dimensions):
    """How many customers had each revenue in a calendar ``year`` (rounded to cents, above zero), with
    its ``band`` (as ``PeriodRevenue``'s) and the dashboard filters' dimensions. A custom period of one
    whole calendar year reads its revenue concentration from these rows (about 1,400 revenues per
    year at a million customers, times the dimensions) instead of grouping the year's revenue days
    per customer (1.2M rows: 0.45-0.55 s). Rebuilt with the preset periods' snapshot: every year when
    that is rebuilt whole, the years of new revenue events otherwise."""

    year = models.SmallIntegerField()
    band = models.SmallIntegerField()
    revenue = models.FloatField()
    customers = models.IntegerField()

    class Meta:
        verbose_name = _("revenue in a calendar year")
        verbose_name_plural = _("revenues in a calendar year")
        indexes = [models.Index(fields=["year", "band", "revenue"], name="analytics_year_revenue_band")]

    def __str__(self) -> str:
        return f"{self.year}: {self.customers} x {self.revenue:.2f}"


class RollupState(models.Model):
    """How far a roll-up family is refreshed: events recorded up to ``watermark`` are included."""

    metric = models.CharField(max_length=40, primary_key=True)
    watermark = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    days_refreshed = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.metric} @ {self.watermark}"


# --- Listening ---------------------------------------------------------------------------------------
class Topic(models.Model):
    """A theme customers write about, found by NMF over TF-IDF; labelled by the phrase its messages
    share most (or its top terms when none is shared). A manager may rename it (``label_is_custom``);
    the name then passes to the topic with the most similar terms in the next run.

    Topics are replaced by every listening run (``run_id`` names the core Job that found them).
    ``is_rising`` is set when the share of messages in the current period grows significantly
    against the previous one (two-proportion z-test, with a minimum count and ratio).
    """

    run_id = models.BigIntegerField(default=0)
    number = models.PositiveSmallIntegerField()
    label = models.CharField(_("label"), max_length=200)
    label_is_custom = models.BooleanField(_("named by a manager"), default=False)
    terms = models.JSONField(default=list, blank=True)
    messages = models.PositiveIntegerField(_("messages"), default=0)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    period_end = models.DateField(null=True, blank=True)
    count_current = models.PositiveIntegerField(default=0)
    count_previous = models.PositiveIntegerField(default=0)
    share_current = models.FloatField(default=0)
    share_previous = models.FloatField(default=0)
    z_score = models.FloatField(default=0)
    is_rising = models.BooleanField(_("rising"), default=False)
    avg_sentiment = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("topic")
        verbose_name_plural = _("topics")
        ordering = ["-is_rising", "-count_current", "number"]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self) -> str:
        return reverse("analytics:topic_detail", args=[self.pk])

    @property
    def keywords(self) -> str:
        return " · ".join(str(t) for t in self.terms[:4])

    def similarity(self, terms: list[str]) -> float:
        """Overlap (Jaccard) of this topic's terms with ``terms``."""
        mine, theirs = set(self.terms), set(terms)
        return len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0

    @property
    def growth(self) -> float | None:
        return self.share_current / self.share_previous if self.share_previous else None


class TopicTrend(models.Model):
    """Messages of a topic per week (``week`` is the Monday) and their share of all messages."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="trend")
    week = models.DateField()
    count = models.PositiveIntegerField(default=0)
    share = models.FloatField(default=0)

    class Meta:
        ordering = ["topic", "week"]
        constraints = [models.UniqueConstraint(fields=["topic", "week"], name="analytics_trend_unique")]

    def __str__(self) -> str:
        return f"{self.topic_id} {self.week}: {self.count}"


class ListenedMessage(models.Model):
    """A customer's text (ticket, ticket reply, call note / e-mail, survey comment) with the topic it
    belongs to (the message-topic assignment) and its sentiment in [-1, 1]."""

    class Source(models.TextChoices):
        TICKET = "ticket", _("Ticket")
        TICKET_MESSAGE = "ticket_message", _("Ticket message")
        ACTIVITY = "activity", _("Call note / e-mail")
        SURVEY = "survey", _("Survey comment")

    source = models.CharField(max_length=20, choices=Source.choices)
    source_id = models.BigIntegerField()
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    occurred_at = models.DateTimeField()
    text = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=2, blank=True)
    sentiment = models.FloatField(default=0)
    topic = models.ForeignKey(
        Topic, on_delete=models.SET_NULL, null=True, blank=True, related_name="message_set"
    )
    topic_weight = models.FloatField(default=0)

    class Meta:
        verbose_name = _("listened message")
        verbose_name_plural = _("listened messages")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="analytics_message_unique")
        ]
        indexes = [
            models.Index(fields=["topic", "occurred_at"], name="analytics_message_topic"),
            models.Index(fields=["customer", "occurred_at"], name="analytics_message_customer"),
            models.Index(fields=["occurred_at"], name="analytics_message_when"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id}"


class CustomerSentiment(models.Model):
    """How a customer sounds across their messages of the last 365 days (an NBA feature).

    ``score`` is the mean message sentiment in [-1, 1], recent messages weighted more.
    """

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="listening_sentiment"
    )
    score = models.FloatField(default=0)
    messages = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("customer sentiment")
        verbose_name_plural = _("customer sentiments")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score:+.2f}"


class CategoryModelVersion(models.Model):
    """A trained ticket-category classifier (joblib file, written atomically), retrained only when
    the categorised tickets changed (``data_hash``)."""

    version = models.PositiveIntegerField(unique=True)
    path = models.CharField(max_length=300)
    n = models.PositiveIntegerField(default=0)
    accuracy = models.FloatField(null=True, blank=True)
    labels = models.JSONField(default=list, blank=True)
    data_hash = models.CharField(max_length=64)
    trained_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"ticket categories v{self.version}"


class SuggestedCategory(models.Model):
    """The category the classifier suggests for a ticket; ``corrected_to`` is set when the agent
    chose another one (and that correction is training data for the next version)."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, primary_key=True, related_name="+")
    suggested = models.CharField(_("suggested category"), max_length=12, choices=Ticket.Category.choices)
    confidence = models.FloatField(_("confidence"), default=0)
    model_version = models.PositiveIntegerField(default=0)
    corrected_to = models.CharField(
        _("corrected to"), max_length=12, choices=Ticket.Category.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(default=timezone.now)
    corrected_at = models.DateTimeField(null=True, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("suggested category")
        verbose_name_plural = _("suggested categories")
        permissions = [("correct_suggestedcategory", "Can accept or correct a suggested ticket category")]

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.suggested} ({self.confidence:.0%})"


class CustomerRisk(Dimensions):
    """A transparent churn-risk score (0-100) per customer from facts of every department, with the
    reasons that add up to it; refreshed by the nightly roll-up."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    score = models.PositiveSmallIntegerField(default=0, db_index=True)
    reasons = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # The customer's dashboard dimensions when scored (as in ``DailyRollup``): the churn-risk chart
    # filters by them without joining 100k customers.

    class Meta:
        verbose_name = _("churn risk")
        verbose_name_plural = _("churn risks")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score}"


class CustomerConversion(models.Model):
    """When a customer last did something that counts as success for a next-best action (any active
    action's ``success_kinds``). Customers converted in a period that ends today are exactly those
    with ``last_success_at`` inside it, so the lift chart needs no timeline scan."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_success_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.last_success_at:%Y-%m-%d}"


class SuccessDay(Dimensions):
    """A local day on which a customer did something that counts as success for a next-best action
    (any active action's ``success_kinds``), with the customer's success day before it. The customers
    converted in a past period [a, b] are its rows inside it whose ``previous_day`` lies before a: one
    per customer (their first success in it), counted without grouping the timeline's events (1.45M
    success events of 777,000 customers in half a year at a million customers).
    Rebuilt per customer by ``customer_rollups.success_days_rebuild``; the customer's owner, country
    and segment as of that rebuild (as ``CustomerRevenue``). ``holdout``: the group of the customer's
    score (None: not scored), kept in step with the scores by ``success_groups_sync``, so the lift
    counts each group's converted customers without joining a million scores."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    # The default means "not known": such a row never counts as a first success.
    previous_day = models.DateField(default=date.max)
    holdout = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name = _("success day")
        verbose_name_plural = _("success days")
        constraints = [
            models.UniqueConstraint(fields=["customer", "day"], name="analytics_success_customer_day")
        ]
        indexes = [models.Index(fields=["day"], name="analytics_success_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.customer_id} (before: {self.previous_day})"

"""Outcomes the company's own history teaches: churn and payment risk, learned like any action's model.

An outcome says which customers it scores (``eligible``, over the feature frame), how its training
examples are made from history (customer, moment, label: features strictly before the moment, the
label strictly after) and which columns its model must not see. The scores are written into the
core's score table on every scoring run (insights.scores), where billing, segments and the 360 page
read them without importing insights.

* churn risk: at monthly snapshot moments, every customer who had not left yet; positive when a
  contract of theirs was cancelled or lapsed within the horizon after the moment.
* payment risk: every issued invoice whose fate is known, at its issue date; positive when it was
  paid more than ``LATE_DAYS`` late, reached dunning level 2, was handed over to collection, or was
  written off (cancelled after a reminder).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from billing.models import Invoice
from crm.models import Contract
from customer360 import scores
from customer360.models import Customer, TimelineEvent
from insights.features import attribute_column
from insights.sampling import StratifiedSample

CURRENT = ("customer", "at_risk")
CHURN_HORIZON_DAYS = 60
CHURN_SNAPSHOTS = 8
CHURN_STEP_DAYS = 15
LATE_DAYS = 14
FATE_KNOWN_DAYS = 60  # an invoice this long past due has shown whether it gets paid on time
MAX_EXAMPLES = 30_000  # default of settings.C360_TRAINING_MAX_EXAMPLES
CUSTOMER_CHUNK = 20_000  # customer ids per range the example builders read at a time
# The customer's lifecycle is read as it is today, not as it was at the example's moment: it would
# tell the model who left (and who was dunned into "at risk") after the fact.
LEAKING = ("lifecycle",)


@dataclass(frozen=True)
class Outcome:
    """A learned outcome whose probability every eligible customer gets as a score of kind ``key``."""

    key: str
    examples: Callable[[datetime], pd.DataFrame]
    eligible: Callable[[pd.DataFrame], np.ndarray]
    exclude: tuple[str, ...] = LEAKING
    min_examples: int = 100
    #: the columns the model may use (empty: every model column); picked by an admin for a defined outcome
    only: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return scores.label_of(self.key)


def max_examples() -> int:
    return max(20, int(getattr(settings, "C360_TRAINING_MAX_EXAMPLES", MAX_EXAMPLES)))


def _id_ranges():
    """(first, last) customer ids, ``CUSTOMER_CHUNK`` ids at a time: the example builders read history
    one range at a time and keep only the sample, so their memory does not grow with the customers."""
    bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return
    for first in range(bounds["lo"], bounds["hi"] + 1, CUSTOMER_CHUNK):
        yield first, first + CUSTOMER_CHUNK - 1


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=["customer_id", "as_of", "label"])


# --- churn ---------------------------------------------------------------------------------------------
def churn_moments(first: int | None = None, last: int | None = None) -> pd.DataFrame:
    """(customer_id, left_at): every contract cancellation and every lapse (expired at its end), of
    the customers with ids from ``first`` to ``last`` (all when not given)."""
    contracts = Contract.objects.all()
    if first is not None:
        contracts = contracts.filter(customer_id__gte=first, customer_id__lte=last)
    cancelled = contracts.filter(status=Contract.Status.CANCELLED, cancelled_at__isnull=False)
    lapsed = contracts.filter(status=Contract.Status.EXPIRED, end__isnull=False)
    rows = list(cancelled.values_list("customer_id", "cancelled_at").order_by())
    tz = timezone.get_current_timezone()
    rows += [
        (c, datetime.combine(end, time.min, tzinfo=tz))
        for c, end in lapsed.values_list("customer_id", "end").order_by()
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "left_at"])
    frame["left_at"] = pd.to_datetime(frame["left_at"], utc=True)
    return frame


def _customers(first: int, last: int) -> pd.DataFrame:
    """(customer_id, created_at) of everyone past the lead and prospect stages (erased people left
    out) with ids from ``first`` to ``last``."""
    rows = Customer.objects.not_erased().exclude(lifecycle__in=["lead", "prospect"])
    rows = rows.filter(pk__gte=first, pk__lte=last).order_by("pk")
    customers = pd.DataFrame(
        list(rows.values_list("pk", "created_at")), columns=["customer_id", "created_at"]
    )
    customers["created_at"] = pd.to_datetime(customers["created_at"], utc=True)
    return customers


def _snapshots(
    moments_of: Callable[[int, int], pd.DataFrame], now: datetime, horizon_days: int, *, once: bool
) -> pd.DataFrame:
    """At each snapshot (the newest one a full horizon before ``now``, then every ``CHURN_STEP_DAYS``
    back), the customers who existed then; label 1 when one of their moments (``moments_of(first,
    last)``: customer_id, at) falls within the horizon after it. ``once``: a customer whose moment
    came before the snapshot is gone (a churner cannot churn again) and left out. Read one range of
    customer ids at a time, sampled as it goes (insights.sampling)."""
    sample = StratifiedSample(max_examples())
    horizon = pd.Timedelta(days=horizon_days)
    for first, last in _id_ranges():
        customers = _customers(first, last)
        if customers.empty:
            continue
        moments = moments_of(first, last)
        parts = []
        for k in range(CHURN_SNAPSHOTS):
            at = pd.Timestamp(now) - horizon - pd.Timedelta(days=k * CHURN_STEP_DAYS)
            before = set(moments.loc[moments["at"] <= at, "customer_id"]) if once else set()
            within = set(moments.loc[(moments["at"] > at) & (moments["at"] <= at + horizon), "customer_id"])
            alive = customers[(customers["created_at"] < at) & ~customers["customer_id"].isin(before)]
            parts.append(
                pd.DataFrame(
                    {
                        "customer_id": alive["customer_id"],
                        "as_of": at,
                        "label": alive["customer_id"].isin(within),
                    }
                )
            )
        sample.add(pd.concat(parts, ignore_index=True).astype({"label": int}))
    if not sample.population:
        return _empty()
    return sample.result()


def churn_examples(now: datetime) -> pd.DataFrame:
    """At each snapshot the customers who had not left yet; label 1 when they left within the horizon."""

    def moments(first: int, last: int) -> pd.DataFrame:
        return churn_moments(first, last).rename(columns={"left_at": "at"})

    return _snapshots(moments, now, CHURN_HORIZON_DAYS, once=True)


def churn_eligible(frame: pd.DataFrame) -> np.ndarray:
    """Current customers (not leads, prospects or those who left)."""
    return frame["lifecycle"].isin(CURRENT).to_numpy(dtype=bool)


# --- payment -------------------------------------------------------------------------------------------
def payment_examples(now: datetime) -> pd.DataFrame:
    """One example per issued invoice whose fate is known, at its issue date (read one range of
    customer ids at a time, sampled as it goes)."""
    sample = StratifiedSample(max_examples())
    for first, last in _id_ranges():
        sample.add(_invoice_examples(now, first, last))
    if not sample.population:
        return _empty()
    return sample.result()


def _invoice_examples(now: datetime, first: int, last: int) -> pd.DataFrame:
    today = timezone.localdate(now) if timezone.is_aware(now) else now.date()
    known = today - timedelta(days=FATE_KNOWN_DAYS)
    invoices = (
        Invoice.objects.exclude(status=Invoice.Status.DRAFT)
        .filter(due_date__lte=known, customer_id__gte=first, customer_id__lte=last)
        .annotate(last_paid=Max("payments__received_at"))
        .values_list("customer_id", "issue_date", "due_date", "status", "dunning_level", "handed_over_at", "last_paid")
        .order_by()
    )  # fmt: skip
    frame = pd.DataFrame(
        list(invoices),
        columns=["customer_id", "issue_date", "due_date", "status", "level", "handed_over_at", "last_paid"],
    )
    if frame.empty:
        return _empty()
    due = pd.to_datetime(frame["due_date"]).dt.tz_localize(timezone.get_current_timezone())
    paid_late = pd.to_datetime(frame["last_paid"], utc=True) > (due + pd.Timedelta(days=LATE_DAYS))
    written_off = frame["status"].eq(Invoice.Status.CANCELLED) & frame["level"].ge(1)
    label = paid_late | frame["level"].ge(2) | frame["handed_over_at"].notna() | written_off
    issued = pd.to_datetime(frame["issue_date"]).dt.tz_localize(timezone.get_current_timezone())
    return pd.DataFrame({"customer_id": frame["customer_id"], "as_of": issued, "label": label.astype(int)})


def payment_eligible(frame: pd.DataFrame) -> np.ndarray:
    """Current customers, and anyone with an overdue invoice (whatever their lifecycle)."""
    overdue = pd.to_numeric(frame.get("overdue_invoices", 0), errors="coerce")
    overdue = overdue.fillna(0).to_numpy() if isinstance(overdue, pd.Series) else np.zeros(len(frame))
    return churn_eligible(frame) | (overdue > 0)


OUTCOMES: dict[str, Outcome] = {
    scores.CHURN_RISK: Outcome(scores.CHURN_RISK, churn_examples, churn_eligible),
    scores.PAYMENT_RISK: Outcome(scores.PAYMENT_RISK, payment_examples, payment_eligible),
}


# --- outcomes an admin defined in the app --------------------------------------------------------------
def event_examples(kind: str, horizon_days: int) -> Callable[[datetime], pd.DataFrame]:
    """Snapshots like churn's: label 1 when an event of ``kind`` happened within the horizon after."""

    def moments_of(first: int, last: int) -> pd.DataFrame:
        rows = TimelineEvent.objects.filter(kind=kind, customer_id__gte=first, customer_id__lte=last)
        moments = pd.DataFrame(
            list(rows.values_list("customer_id", "occurred_at").order_by()), columns=["customer_id", "at"]
        )
        moments["at"] = pd.to_datetime(moments["at"], utc=True)
        return moments

    def examples(now: datetime) -> pd.DataFrame:
        return _snapshots(moments_of, now, horizon_days, once=False)

    return examples


def attribute_examples(attribute: str, values: list[str]) -> Callable[[datetime], pd.DataFrame]:
    """One example per current customer whose attribute is known, at the moment they came in (the
    imported attributes are what was known then; the hold-out is the newest customers, in the order
    they came in); label 1 when the attribute has one of ``values`` (compared as lower-case text; an
    attribute imported as yes/no matches "yes"/"no" as well as "true"/"false")."""
    wanted = set(values)

    def examples(now: datetime) -> pd.DataFrame:
        rows = (
            Customer.objects.not_erased()
            .filter(lifecycle__in=CURRENT, attributes__has_key=attribute)
            .values_list("pk", "created_at", "attributes")
            .order_by("created_at", "pk")
        )
        sample = StratifiedSample(max_examples())
        ids, moments, labels = [], [], []
        for pk, created_at, attributes in rows.iterator(chunk_size=5000):
            value = attributes.get(attribute)
            if value is None or value == "":
                continue
            text = str(value).strip().lower()
            ids.append(pk)
            moments.append(created_at)
            labels.append(int(text in wanted or (isinstance(value, bool) and _yes_no(value) in wanted)))
            if len(ids) == CUSTOMER_CHUNK:  # sampled as it goes: memory independent of the customers
                _add_examples(sample, ids, moments, labels)
                ids, moments, labels = [], [], []
        _add_examples(sample, ids, moments, labels)
        return sample.result() if sample.population else _empty()

    return examples


def _add_examples(sample: StratifiedSample, ids: list, moments: list, labels: list) -> None:
    if ids:
        sample.add(
            pd.DataFrame({"customer_id": ids, "as_of": pd.to_datetime(moments, utc=True), "label": labels})
        )


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def defined(definition) -> Outcome:
    """The Outcome of an ``OutcomeDefinition``: its examples, current customers, its picked columns
    only (never the attribute that is its own label, nor today's lifecycle)."""
    if definition.success == definition.Success.ATTRIBUTE:
        examples = attribute_examples(definition.attribute, definition.success_values)
        exclude = (*LEAKING, attribute_column(definition.attribute))
    else:
        examples = event_examples(definition.event_kind, definition.horizon_days)
        exclude = LEAKING
    return Outcome(
        definition.score_kind,
        examples,
        churn_eligible,
        exclude=exclude,
        min_examples=20,
        only=tuple(definition.features),
    )


def definition_of(key: str):
    """The OutcomeDefinition named by its key or its score kind (``outcome:<key>``), or None."""
    from insights.models import OutcomeDefinition

    return OutcomeDefinition.objects.filter(key=key.removeprefix(scores.OUTCOME_PREFIX)).first()


def active_definitions() -> list:
    from insights.models import OutcomeDefinition

    return list(OutcomeDefinition.objects.filter(is_active=True).order_by("key"))


def all_outcomes() -> dict[str, Outcome]:
    """The built-in outcomes and every active defined one, by score kind."""
    return {**OUTCOMES, **{d.score_kind: defined(d) for d in active_definitions()}}


def get(key: str, *, active_only: bool = True) -> Outcome | None:
    """A built-in outcome, or a defined one by key or score kind (only an active one unless
    ``active_only`` is false, as ``outcome_evaluate`` asks)."""
    if key in OUTCOMES:
        return OUTCOMES[key]
    definition = definition_of(key)
    if definition is None or (active_only and not definition.is_active):
        return None
    return defined(definition)


def train_outcome(outcome: Outcome, *, force: bool = False, now: datetime | None = None):
    """Train the outcome's model from history when there is enough of it and it changed; the new
    version scores from the next scoring pass on. Returns the ModelVersion or None."""
    from insights.training import logger, train_on

    examples = outcome.examples(now or timezone.now())
    # Ten of each class at least: fewer cannot be split into a hold-out and calibration folds that each
    # hold both classes (a young install, or the small demo).
    per_class = examples["label"].value_counts() if len(examples) else None
    if (
        len(examples) < outcome.min_examples
        or per_class is None
        or len(per_class) < 2
        or per_class.min() < 10
    ):
        logger.info("outcome %s: %s examples, not enough for a model", outcome.key, len(examples))
        return None
    return train_on(
        outcome.key, examples, split="time", exclude=outcome.exclude, only=outcome.only, force=force
    )

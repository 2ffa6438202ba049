"""Receivables and dunning: ageing, DSO, open amount by dunning level, recovery after each level,
promises to pay kept. Amounts in EUR; open amount = gross + dunning fees - paid."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics import kpis
from analytics.dashboards.charts import (
    ChartData,
    ChartDef,
    Dashboard,
    Drill,
    Series,
    dashboards,
    number,
)
from analytics.dashboards.filters import Filters
from analytics.models import DailyRollup
from analytics.periods import add_months
from analytics.rollups import OPEN_INVOICE_AGES, invoice_age_q
from billing.events import PAYMENT_PROMISED
from billing.models import DunningNotice, Invoice, Payment
from customer360.models import TimelineEvent

INVOICE_COLUMNS = [
    (gettext_lazy("Invoice"), "number"),
    (gettext_lazy("Issued"), "issue_date"),
    (gettext_lazy("Due"), "due_date"),
    (gettext_lazy("Gross (EUR)"), "gross_total"),
    (gettext_lazy("Dunning fees (EUR)"), "fees_total"),
    (gettext_lazy("Paid (EUR)"), "paid_amount"),
    (gettext_lazy("Dunning level"), "dunning_level"),
    (gettext_lazy("Status"), "status"),
]
AGE_LABELS = {
    "not_due": gettext_lazy("Not yet due"),
    "0-30": gettext_lazy("0-30 days"),
    "31-60": gettext_lazy("31-60 days"),
    "61-90": gettext_lazy("61-90 days"),
    "90+": gettext_lazy("over 90 days"),
}
AGEING = [(key, AGE_LABELS[key], lo, hi) for key, lo, hi in OPEN_INVOICE_AGES]
MONEY = DecimalField(max_digits=14, decimal_places=2)
ZERO = Value(Decimal("0"), output_field=MONEY)


def _invoices(f: Filters):
    return Invoice.objects.filter(f.scope())


def _open(f: Filters):
    return _invoices(f).open()


def _open_snapshot(f: Filters) -> tuple[dict[str, float], dict[str, int], dict[str, float], dict[str, int]]:
    """Open invoices now, from the roll-up ``billing.open`` (as of its refresh): amount and count per
    age band and per dunning level."""
    amounts: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    level_amounts: dict[str, float] = defaultdict(float)
    level_counts: dict[str, int] = defaultdict(int)
    rows = DailyRollup.objects.filter(f.rollup_q(), metric="billing.open")
    for key, n, amount in (
        rows.values("key").annotate(n=Sum("count"), a=Sum("amount")).values_list("key", "n", "a")
    ):
        band, _sep, level = key.partition(":")
        amounts[band] += number(amount)
        counts[band] += n
        level_amounts[level] += number(amount)
        level_counts[level] += n
    return amounts, counts, level_amounts, level_counts


def ageing(f: Filters) -> ChartData:
    """Open invoices now by days overdue: open amount and count."""
    amounts, counts, _levels, _level_counts = _open_snapshot(f)
    return ChartData(
        key="receivables.ageing",
        title=_("Receivables ageing (open invoices now)"),
        categories=[(key, str(label)) for key, label, *_rest in AGEING],
        series=[
            Series(_("Open amount (EUR)"), [round(amounts[k], 2) for k, *_r in AGEING], key="amount"),
            Series(_("Invoices"), [counts[k] for k, *_r in AGEING], key="count", axis="y2"),
        ],
        x_title=_("Days overdue"),
        y_title=_("EUR"),
        y2_title=_("Invoices"),
    )


def drill_ageing(f: Filters, bucket: str, series: str) -> Drill:
    _key, _label, lo, hi = next(a for a in AGEING if a[0] == bucket)
    return Drill(
        _("Open invoices in this age band"),
        _open(f).filter(invoice_age_q(f.today, lo, hi)),
        INVOICE_COLUMNS,
        url_name="billing:invoice_detail",
    )


def _month_ends(f: Filters) -> list[tuple[str, date]]:
    """(bucket, day) for each month of the period: its last day, or the period's end for the last one
    (every month of the period: "last 12 months" starts in the same month a year ago)."""
    ends = []
    for first in f.months:
        last = min(add_months(first, 1) - timedelta(days=1), f.end)
        ends.append((first.strftime("%Y-%m"), last))
    return ends


def _billed(f: Filters):
    return _invoices(f).exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED])


def _after(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def dso(f: Filters) -> ChartData:
    """Receivables and days sales outstanding at each month end (``kpis.receivables``, ``kpis.dso``).

    From the daily roll-ups: receivables at D = invoiced + dunning fees up to D - paid up to D.
    """
    ends = _month_ends(f)
    rollups = DailyRollup.objects.filter(
        f.rollup_q(), metric__in=["billing.invoiced", "billing.fees", "billing.paid"]
    )
    invoiced, fees, paid = Q(metric="billing.invoiced"), Q(metric="billing.fees"), Q(metric="billing.paid")
    up_to = {f"{name}{i}": (condition & Q(day__lte=d)) for i, (_b, d) in enumerate(ends)
             for name, condition in (("invoiced", invoiced), ("fees", fees), ("paid", paid))}  # fmt: skip
    totals = rollups.aggregate(
        **{key: Coalesce(Sum("amount", filter=condition), ZERO) for key, condition in up_to.items()},
        **{
            f"sales{i}": Coalesce(
                Sum("amount", filter=invoiced & Q(day__lte=d, day__gt=d - timedelta(days=kpis.DSO_DAYS))),
                ZERO,
            )
            for i, (_b, d) in enumerate(ends)
        },
    )
    receivables, values = [], []
    for i in range(len(ends)):
        outstanding = kpis.receivables(
            number(totals[f"invoiced{i}"]), number(totals[f"fees{i}"]), number(totals[f"paid{i}"])
        )
        receivables.append(outstanding)
        values.append(kpis.dso(outstanding, number(totals[f"sales{i}"])))
    return ChartData(
        key="receivables.dso",
        title=_("Days sales outstanding (DSO)"),
        categories=[(bucket, date_format(day, "SHORT_DATE_FORMAT")) for bucket, day in ends],
        series=[
            Series(_("Receivables (EUR)"), receivables, key="receivables"),
            Series(_("DSO (days)"), values, key="dso", axis="y2", drill=False),
        ],
        x_title=_("Month end"),
        y_title=_("EUR"),
        y2_title=_("Days"),
        note=_(
            "Receivables = invoiced + dunning fees - paid up to the month end (the last one: today). "
            "DSO = receivables / invoiced in the 90 days before x 90."
        ),
    )


def _sum_by(rows, field: str) -> Coalesce:
    """Sum of ``field`` of ``rows`` (payments or notices) per invoice, as a subquery (two joined sums
    would multiply each other's rows)."""
    total = (
        rows.filter(invoice=OuterRef("pk")).order_by().values("invoice").annotate(s=Sum(field)).values("s")
    )
    return Coalesce(Subquery(total, output_field=MONEY), ZERO)


def drill_dso(f: Filters, bucket: str, series: str) -> Drill:
    """Invoices still (partly) unpaid at that month end: gross + fees charged by then > paid by then
    (the invoices whose open amounts make up the receivables of that bar)."""
    day = dict(_month_ends(f))[bucket]
    paid_by = _sum_by(Payment.objects.filter(received_at__lt=_after(day)), "amount")
    fees_by = _sum_by(DunningNotice.objects.filter(sent_at__lt=_after(day)), "fee")
    invoices = (
        _billed(f)
        .filter(issue_date__lte=day)
        .annotate(paid_by=paid_by, fees_by=fees_by)
        .filter(paid_by__lt=F("gross_total") + F("fees_by"))
    )
    return Drill(
        _("Invoices unpaid at month end"), invoices, INVOICE_COLUMNS, url_name="billing:invoice_detail"
    )


def by_level(f: Filters) -> ChartData:
    """Open invoices now by dunning level: open amount and count."""
    _amounts, _counts, amounts, counts = _open_snapshot(f)
    levels = range(Invoice.MAX_DUNNING_LEVEL + 1)
    return ChartData(
        key="receivables.levels",
        title=_("Open amount by dunning level"),
        categories=[
            (str(lv), _("Level %(level)s") % {"level": lv} if lv else _("Not dunned")) for lv in levels
        ],
        series=[
            Series(
                _("Open amount (EUR)"),
                [round(amounts[str(lv)], 2) for lv in levels],
                key="amount",
            ),
            Series(_("Invoices"), [counts[str(lv)] for lv in levels], key="count", axis="y2"),
        ],
        x_title=_("Dunning level"),
        y_title=_("EUR"),
        y2_title=_("Invoices"),
    )


def drill_level(f: Filters, bucket: str, series: str) -> Drill:
    return Drill(
        _("Open invoices at this dunning level"),
        _open(f).filter(dunning_level=int(bucket)),
        INVOICE_COLUMNS,
        url_name="billing:invoice_detail",
    )


def recovery(f: Filters) -> ChartData:
    """Invoices that got a notice of each level in the period, and how many were then paid without
    a further level (recovered)."""
    # From the roll-up (as of its refresh): notices per level and whether the invoice was then paid
    # at that level. One notice per invoice and level (a database constraint): notices are invoices.
    counts = kpis.rollup_counts("billing.recovery", f, since=f.start, until=f.end)
    levels = range(1, Invoice.MAX_DUNNING_LEVEL + 1)
    recovered = [counts.get(f"{lv}:recovered", 0) for lv in levels]
    noticed = [counts.get(f"{lv}:open", 0) + r for lv, r in zip(levels, recovered, strict=True)]
    return ChartData(
        key="receivables.recovery",
        title=_("Recovery after each dunning level"),
        categories=[(str(lv), _("Level %(level)s") % {"level": lv}) for lv in levels],
        series=[
            Series(_("Recovered"), recovered, key="recovered"),
            Series(
                _("Not (yet) recovered"), [n - r for n, r in zip(noticed, recovered, strict=True)], key="open"
            ),
            Series(
                _("Recovery rate %"),
                [round(100 * r / n, 1) if n else 0.0 for n, r in zip(noticed, recovered, strict=True)],
                key="rate",
                axis="y2",
                drill=False,
            ),
        ],
        kind="stack",
        x_title=_("Dunning level"),
        y_title=_("Invoices noticed in the period"),
        y2_title=_("%"),
    )


def drill_recovery(f: Filters, bucket: str, series: str) -> Drill:
    level = int(bucket)
    noticed = DunningNotice.objects.filter(f.in_period("sent_at"), level=level).values("invoice_id")
    invoices = _invoices(f).filter(pk__in=noticed)
    recovered = Q(status=Invoice.Status.PAID, dunning_level=level)
    if series == "recovered":
        invoices = invoices.filter(recovered)
    elif series == "open":
        invoices = invoices.exclude(recovered)
    return Drill(
        _("Invoices noticed at this level"), invoices, INVOICE_COLUMNS, url_name="billing:invoice_detail"
    )


PROMISE_STATES = [
    ("kept", gettext_lazy("Kept")),
    ("broken", gettext_lazy("Broken")),
    ("pending", gettext_lazy("Not yet due")),
]


def _promise_states(f: Filters) -> dict[str, set[int]]:
    """Invoice ids per promise state, for promises made in the period (from the timeline's
    ``payment.promised`` events: a narrow, indexed range by kind and time)."""
    events = list(
        TimelineEvent.objects.filter(
            f.scope(), f.in_period("occurred_at"), kind=PAYMENT_PROMISED.kind,
            source_type=ContentType.objects.get_for_model(Invoice),
        ).values_list("source_id", "occurred_at", "payload")
    )  # fmt: skip
    invoice_ids = {int(s) for s, _when, _p in events if str(s).isdigit()}
    payments = defaultdict(list)
    for invoice_id, amount, received in Payment.objects.filter(invoice_id__in=invoice_ids).values_list(
        "invoice_id", "amount", "received_at"
    ):
        payments[invoice_id].append((received, amount))
    states: dict[str, set[int]] = {key: set() for key, _label in PROMISE_STATES}
    for source_id, when, payload in events:
        if not str(source_id).isdigit():
            continue
        invoice_id = int(source_id)
        try:
            promised = date.fromisoformat(payload.get("promised_date", ""))
        except (TypeError, ValueError):
            continue
        owed = Decimal(str(payload.get("open_amount") or "0"))
        paid = sum((amt for at, amt in payments[invoice_id] if when <= at < _after(promised)), Decimal("0"))
        if owed > 0 and paid >= owed:
            state = "kept"
        elif promised < f.today:
            state = "broken"
        else:
            state = "pending"
        states[state].add(invoice_id)
    return states


def promises(f: Filters) -> ChartData:
    """Payment promises made in the period: kept (paid in full by the promised date), broken, pending."""
    states = _promise_states(f)
    return ChartData(
        key="receivables.promises",
        title=_("Promises to pay"),
        categories=[(key, str(label)) for key, label in PROMISE_STATES],
        series=[Series(_("Invoices"), [len(states[key]) for key, _label in PROMISE_STATES], key="n")],
        x_title=_("Outcome"),
        y_title=_("Invoices with a promise"),
    )


def drill_promises(f: Filters, bucket: str, series: str) -> Drill:
    ids = _promise_states(f).get(bucket, set())
    return Drill(
        _("Invoices with a promise to pay"),
        _invoices(f).filter(pk__in=ids),
        INVOICE_COLUMNS,
        url_name="billing:invoice_detail",
    )


dashboards.register(
    Dashboard(
        key="receivables",
        title=gettext_lazy("Receivables"),
        order=40,
        description=gettext_lazy("Ageing, DSO, dunning levels, recovery and promises to pay."),
        charts=(
            ChartDef("receivables.ageing", ageing, drill_ageing),
            ChartDef("receivables.dso", dso, drill_dso),
            ChartDef("receivables.levels", by_level, drill_level),
            ChartDef("receivables.recovery", recovery, drill_recovery),
            ChartDef("receivables.promises", promises, drill_promises),
        ),
    )
)

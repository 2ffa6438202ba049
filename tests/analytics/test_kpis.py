"""Figures that agree: each KPI computed here from raw rows equals what every page and API shows it
(dashboard page, NBA performance page, chart API, drill-down CSV); periods on awkward days; charts
that do not mislead (integer count axes, no chart for an empty series, refused inverted ranges,
people's names)."""

from __future__ import annotations

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from analytics import services
from analytics.customer_rollups import success_kinds
from analytics.dashboards.charts import ChartData, Series, figure
from analytics.dashboards.filters import Filters, period_bounds
from billing.models import DunningNotice, Invoice, Payment
from crm.models import Deal, Satisfaction, Ticket
from customer360.models import TimelineEvent
from insights.models import CustomerScore
from tests.analytics.factories import TODAY, at, build_world
from tests.conftest import client_for


@pytest.fixture
def world(db, rep, rep2):
    with time_machine.travel(at(TODAY), tick=False):
        built = build_world(rep, rep2)
        services.rollups_refresh(full=True)
        yield built


def year() -> Filters:
    start, end = period_bounds("12m", TODAY)
    return Filters(start=start, end=end, today=TODAY)


def api(client, board: str, chart: str, query: str = "period=12m") -> dict:
    response = client.get(f"/api/analytics/charts/{board}/{chart}/?{query}")
    assert response.status_code == 200, response.content
    data = response.json()
    buckets = [c["bucket"] for c in data["categories"]]
    return {s["key"]: dict(zip(buckets, s["values"], strict=True)) for s in data["series"]}


def drill_csv(client, board: str, chart: str, bucket: str, series: str = "") -> list[dict]:
    response = client.get(
        f"/dashboards/{board}/{chart}/drill/?period=12m&bucket={bucket}&series={series}&format=csv"
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- periods -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("today", "twelve_months", "ytd"),
    [
        (datetime.date(2026, 12, 2), datetime.date(2025, 12, 3), datetime.date(2026, 1, 1)),
        (datetime.date(2027, 1, 1), datetime.date(2026, 1, 2), datetime.date(2027, 1, 1)),
        (datetime.date(2024, 2, 29), datetime.date(2023, 3, 1), datetime.date(2024, 1, 1)),
    ],
)
def test_periods_on_2_dec_1_jan_and_29_feb(manager, today, twelve_months, ytd):
    assert period_bounds("12m", today) == (twelve_months, today)
    assert period_bounds("ytd", today) == (ytd, today)
    assert period_bounds("30d", today) == (today - datetime.timedelta(days=29), today)
    # "Last 12 months" is never the calendar year, and its first month is a year ago.
    assert period_bounds("12m", today) != period_bounds("ytd", today)
    months = Filters(*period_bounds("12m", today), today=today).months
    assert months[0] == twelve_months.replace(day=1) and months[-1] == today.replace(day=1)
    with time_machine.travel(
        datetime.datetime.combine(today, datetime.time(12), tzinfo=timezone.get_current_timezone()),
        tick=False,
    ):
        client = client_for(manager)
        page = client.get("/dashboards/receivables/?period=12m").content.decode()
        assert f"Period: {twelve_months.day} {twelve_months:%b %Y}" in page  # one date format: 1 Dec 2025
        api_data = client.get("/api/analytics/charts/receivables/receivables.dso/?period=12m").json()
        assert (api_data["start"], api_data["end"]) == (twelve_months.isoformat(), today.isoformat())
        # Every month of the period has its month end, last year's month included.
        buckets = [c["bucket"] for c in api_data["categories"]]
        assert buckets[0] == f"{twelve_months:%Y-%m}" and buckets[-1] == f"{today:%Y-%m}"
        ytd_data = client.get("/api/analytics/charts/receivables/receivables.dso/?period=ytd").json()
        assert ytd_data["start"] == ytd.isoformat()


def test_inverted_custom_range_is_refused_with_a_message(world, manager):
    client = client_for(manager)
    response = client.get("/dashboards/service/?period=custom&start=2026-10-01&end=2026-09-01")
    page = response.content.decode()
    assert response.status_code == 200
    assert "The end date (2026-09-01) is before the start date (2026-10-01)" in page
    assert 'role="alert" id="filter-errors"' in page
    refused = client.get(
        "/api/analytics/charts/service/service.volume/?period=custom&start=2026-10-01&end=2026-09-01"
    )
    assert refused.status_code == 400
    assert "end" in refused.json() or "end" in str(refused.json())
    fine = client.get("/dashboards/service/?period=custom&start=2026-09-01&end=2026-10-01").content.decode()
    assert "filter-errors" not in fine


# --- KPIs from raw rows ---------------------------------------------------------------------------------
def test_nba_lift_agrees_on_dashboard_performance_page_api_and_drill_down(world, manager):
    f = year()
    kinds = success_kinds()
    converted = set(
        TimelineEvent.objects.filter(
            kind__in=kinds, occurred_at__gte=f.start_at, occurred_at__lt=f.end_at
        ).values_list("customer_id", flat=True)
    )
    groups = {False: set(), True: set()}
    for customer_id, holdout in CustomerScore.objects.values_list("customer_id", "holdout"):
        groups[holdout].add(customer_id)
    n1, n0 = len(groups[False]), len(groups[True])
    c1, c0 = len(groups[False] & converted), len(groups[True] & converted)
    assert n1 and n0
    p1, p0 = c1 / n1, c0 / n0
    se = (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) ** 0.5
    expected = f"{100 * (p1 - p0):+.2f} points"
    interval = f"{100 * (p1 - p0 - 1.96 * se):+.2f} to {100 * (p1 - p0 + 1.96 * se):+.2f}"

    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(manager)
        dashboard = client.get("/dashboards/nba/?period=12m").content.decode()
        performance = client.get("/dashboards/performance/?period=12m").content.decode()
        performance_default = client.get("/dashboards/performance/").content.decode()
        data = api(client, "nba", "nba.lift")
        treated_rows = drill_csv(client, "nba", "nba.lift", "treated", "converted")
        holdout_rows = drill_csv(client, "nba", "nba.lift", "holdout", "customers")
    assert f"Lift {expected} (95% CI {interval})" in dashboard
    for page in (performance, performance_default):
        lift_text = re.search(r'data-kpi="lift">([^<]*)<', page).group(1)
        assert lift_text == f"{expected} ({interval})"
    assert data["rate"] == {"treated": round(100 * p1, 2), "holdout": round(100 * p0, 2)}
    assert data["converted"] == {"treated": c1, "holdout": c0}
    assert data["customers"] == {"treated": n1, "holdout": n0}
    assert len(treated_rows) == c1 and len(holdout_rows) == n0


def _receivables_at(day: datetime.date) -> Decimal:
    """Gross + fees charged - paid by the end of ``day`` over billed invoices, from raw rows."""
    after = timezone.make_aware(
        datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min)
    )
    billed = Invoice.objects.exclude(status__in=["draft", "cancelled"])
    gross = sum((i.gross_total for i in billed.filter(issue_date__lte=day)), Decimal(0))
    fees = sum(
        (n.fee for n in DunningNotice.objects.filter(invoice__in=billed, sent_at__lt=after)), Decimal(0)
    )
    paid = sum(
        (p.amount for p in Payment.objects.filter(invoice__in=billed, received_at__lt=after)), Decimal(0)
    )
    return gross + fees - paid


def test_receivables_and_dso_agree_with_raw_rows_ageing_and_drill_down(world, manager):
    # A paid dunning fee: once the fee was left out, the paid fee drove receivables below zero.
    fined = world.invoices["b_45"]
    DunningNotice.objects.filter(invoice=fined, level=2).update(fee=Decimal("10"))
    Invoice.objects.filter(pk=fined.pk).update(fees_total=Decimal("10"))
    with time_machine.travel(at(TODAY), tick=False):
        services.rollups_refresh(full=True)
        client = client_for(manager)
        dso = api(client, "receivables", "receivables.dso")
        ageing = api(client, "receivables", "receivables.ageing")
        rows = drill_csv(client, "receivables", "receivables.dso", f"{TODAY:%Y-%m}", "receivables")
    now = _receivables_at(TODAY)
    assert dso["receivables"][f"{TODAY:%Y-%m}"] == float(now) == 100 + 150 + 410 + 800
    # Today's receivables = the open amounts of the ageing chart = the invoices of the drill-down.
    assert sum(ageing["amount"].values()) == float(now)
    open_in_csv = sum(
        Decimal(r["Gross (EUR)"]) + Decimal(r["Dunning fees (EUR)"]) - Decimal(r["Paid (EUR)"]) for r in rows
    )
    assert open_in_csv == now
    sales = sum(
        (i.gross_total for i in Invoice.objects.exclude(status__in=["draft", "cancelled"])
         if TODAY - datetime.timedelta(days=90) < i.issue_date <= TODAY),
        Decimal(0),
    )  # fmt: skip
    assert dso["dso"][f"{TODAY:%Y-%m}"] == round(float(now / sales * 90), 1)
    for bucket, value in dso["receivables"].items():
        year_, month = (int(p) for p in bucket.split("-"))
        last = min(datetime.date(year_ + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1), TODAY)
        assert value == float(_receivables_at(last)) >= 0
        assert dso["dso"][bucket] is None or dso["dso"][bucket] >= 0


def test_fully_paid_fee_leaves_no_negative_receivables(db, rep, manager):
    from tests.factories import CustomerFactory

    customer = CustomerFactory(owner=rep)
    issued = TODAY - datetime.timedelta(days=40)
    invoice = Invoice.objects.create(
        customer=customer, number="F-1", issue_date=issued, due_date=issued + datetime.timedelta(days=14),
        status="paid", net_total=Decimal("100"), gross_total=Decimal("100"), fees_total=Decimal("5"),
        paid_amount=Decimal("105"),
    )  # fmt: skip
    DunningNotice.objects.create(invoice=invoice, level=1, fee=Decimal("5"), channel="email", text="x",
                                 sent_at=at(TODAY - datetime.timedelta(days=20)))  # fmt: skip
    Payment.objects.create(
        invoice=invoice, amount=Decimal("105"), received_at=at(TODAY - datetime.timedelta(days=10))
    )
    with time_machine.travel(at(TODAY), tick=False):
        services.rollups_refresh(full=True)
        dso = api(client_for(manager), "receivables", "receivables.dso")
    assert all(v >= 0 for v in dso["receivables"].values())
    assert dso["receivables"][f"{TODAY:%Y-%m}"] == 0
    assert all(v is None or v >= 0 for v in dso["dso"].values())


def test_win_rate_agrees_with_raw_deals_and_the_drill_down(world, manager, rep):
    f = year()
    closed = Deal.objects.filter(closed_at__gte=f.start_at, closed_at__lt=f.end_at, owner=rep)
    won, lost = closed.filter(status="won").count(), closed.filter(status="lost").count()
    assert won + lost
    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(manager)
        data = api(client, "sales", "sales.win_rate")
        won_rows = drill_csv(client, "sales", "sales.win_rate", str(rep.pk), "won")
    assert data["rate"][str(rep.pk)] == round(100 * won / (won + lost), 1)
    assert data["won"][str(rep.pk)] == won == len(won_rows)


def test_csat_agrees_with_raw_ratings_and_the_drill_down(world, manager):
    f = year()
    ratings = list(Satisfaction.objects.filter(created_at__gte=f.start_at, created_at__lt=f.end_at))
    by_month: dict[str, list[int]] = {}
    for rating in ratings:
        by_month.setdefault(f"{timezone.localtime(rating.created_at):%Y-%m}", []).append(rating.score)
    assert by_month
    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(manager)
        data = api(client, "service", "service.csat")
        for month, scores in by_month.items():
            assert data["score"][month] == round(sum(scores) / len(scores), 2)
            assert (
                data["n"][month]
                == len(scores)
                == len(drill_csv(client, "service", "service.csat", month, "n"))
            )
    assert all(v is None for k, v in data["score"].items() if k not in by_month)


def test_sla_attainment_agrees_with_raw_tickets_and_the_drill_down(world, manager):
    f = year()
    now = at(TODAY)
    tickets = Ticket.objects.filter(
        opened_at__gte=f.start_at, opened_at__lt=f.end_at, resolution_due__isnull=False
    )
    with time_machine.travel(now, tick=False):
        client = client_for(manager)
        data = api(client, "service", "service.sla")
        for priority in {t.priority for t in tickets}:
            mine = [t for t in tickets if t.priority == priority]
            breached = [
                t for t in mine
                if t.sla_breached_first_response or t.sla_breached_resolution
                or (t.status in Ticket.OPEN_STATUSES and t.resolution_due < now)
                or (t.status in Ticket.OPEN_STATUSES and not t.first_response_at and t.first_response_due
                    and t.first_response_due < now)
            ]  # fmt: skip
            assert data["rate"][priority] == round(100 * (len(mine) - len(breached)) / len(mine), 1)
            assert len(drill_csv(client, "service", "service.sla", priority, "breached")) == len(breached)
            assert len(drill_csv(client, "service", "service.sla", priority, "met")) == len(mine) - len(
                breached
            )


# --- charts ----------------------------------------------------------------------------------------------
def test_count_axes_have_whole_number_ticks():
    counts = ChartData("x.counts", "Counts", [("a", "A"), ("b", "B")], [Series("n", [14, 3], key="n")])
    layout = figure(counts)["layout"]
    assert layout["yaxis"]["tickformat"] == ",d" and isinstance(layout["yaxis"]["dtick"], int)
    stacked = ChartData("x.stack", "S", [("a", "A")], [Series("m", [40], key="m"), Series("b", [45], key="b")],
                        kind="stack")  # fmt: skip
    assert figure(stacked)["layout"]["yaxis"]["dtick"] == 20  # 85 stacked: ticks 0, 20, 40, 60, 80
    amounts = ChartData("x.eur", "EUR", [("a", "A")], [Series("EUR", [14.99], key="eur")])
    assert "tickformat" not in figure(amounts)["layout"]["yaxis"]
    mixed = ChartData(
        "x.mixed", "M", [("a", "A")], [Series("EUR", [1.5], key="e"), Series("n", [3], key="n", axis="y2")]
    )
    assert figure(mixed)["layout"]["yaxis2"]["tickformat"] == ",d"


def test_empty_series_gets_a_sentence_instead_of_a_chart(world, manager):
    with time_machine.travel(at(TODAY), tick=False):
        page = client_for(manager).get("/dashboards/sales/?period=30d&country=IT").content.decode()
    assert page.count("no records match, so there is no chart") >= 1
    assert page.count('class="plot"') + page.count("no records match, so there is no chart") == 3


def test_drill_downs_show_peoples_names(world, manager, rep):
    rep.first_name, rep.last_name = "Rita", "Berger"
    rep.save()
    with time_machine.travel(at(TODAY), tick=False):
        client = client_for(manager)
        rows = drill_csv(client, "sales", "sales.win_rate", str(rep.pk), "won")
        page = client.get(f"/dashboards/sales/sales.win_rate/drill/?period=12m&bucket={rep.pk}&series=won")
        tickets = drill_csv(client, "service", "service.volume", "complaint")
        recommendations = drill_csv(client, "nba", "nba.by_rep", str(rep.pk), "shown")
    assert rows and {r["Owner"] for r in rows} == {"Rita Berger"}
    assert "Rita Berger" in page.content.decode() and ">rep<" not in page.content.decode()
    assert tickets and {r["Assignee"] for r in tickets} == {"Rita Berger"}
    assert recommendations and {r["Rep (customer owner)"] for r in recommendations} == {"Rita Berger"}

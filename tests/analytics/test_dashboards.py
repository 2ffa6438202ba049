"""Dashboards: each chart's numbers equal a direct ORM computation; each drill-down returns exactly
the records behind the bar; CSV exports are formula-safe; only managers and admins get in."""

from __future__ import annotations

import csv
import datetime
import io
import re
from decimal import Decimal

import plotly.graph_objects as go
import pytest
import time_machine
from django.db.models import Count, Sum

from analytics import rollups, services
from analytics.dashboards import dashboards
from analytics.dashboards.charts import figure, safe_cell
from analytics.dashboards.filters import Filters, period_bounds
from analytics.models import CustomerRisk
from billing.models import Invoice
from crm.models import Deal, Ticket
from customer360.models import Customer, TimelineEvent
from marketing.models import ConsentChange, Touch
from tests.analytics.factories import TODAY, at, build_world
from tests.conftest import client_for

# Series whose numbers count records, so the drill-down must return exactly that many.
COUNT_SERIES = {
    "sales.pipeline": ["count"],
    "sales.win_rate": ["won", "lost"],
    "service.volume": None,  # every series (channels)
    "service.sla": ["met", "breached"],
    "service.times": ["first_response", "resolution"],
    "service.csat": ["n"],
    "service.backlog": None,
    "receivables.ageing": ["count"],
    "receivables.levels": ["count"],
    "receivables.recovery": ["recovered", "open"],
    "receivables.promises": ["n"],
    "marketing.funnel": None,
    "marketing.consents": None,
    "customers.new_lost": None,
    "customers.lifecycle": ["n"],
    "customers.concentration": ["customers"],
    "customers.churn_risk": ["n"],
    "customers.learned_churn_risk": ["n"],
    "nba.by_action": None,
    "nba.by_rep": None,
    "nba.lift": ["converted", "customers"],
}


@pytest.fixture
def world(db, rep, rep2):
    with time_machine.travel(at(TODAY), tick=False):
        built = build_world(rep, rep2)
        services.rollups_refresh(full=True)
        services.customer_risk_refresh()
        yield built


def year(**kwargs) -> Filters:
    start, end = period_bounds("12m", TODAY)
    return Filters(start=start, end=end, today=TODAY, **kwargs)


def build(key: str, filters: Filters):
    board = dashboards.get(key.split(".")[0])
    return board.chart(key).build(filters)


# --- numbers equal the ORM ------------------------------------------------------------------------------
def test_sales_numbers_equal_the_orm(world, rep):
    pipeline = build("sales.pipeline", year())
    for deal_stage in {d.stage for d in world.deals if d.status == "open"}:
        open_deals = Deal.objects.filter(status="open", stage=deal_stage)
        value = open_deals.aggregate(v=Sum("amount"))["v"]
        assert pipeline.value(str(deal_stage.pk), "count") == open_deals.count()
        assert pipeline.value(str(deal_stage.pk), "value") == float(value)
        assert pipeline.value(str(deal_stage.pk), "weighted") == pytest.approx(
            float(value) * deal_stage.probability / 100
        )
    mine = build("sales.pipeline", year(owner=rep.pk))
    assert sum(mine.series[2].values) == Deal.objects.filter(status="open", owner=rep).count() == 2

    forecast = build("sales.forecast", year())
    assert forecast.value("2026-12", "value") == 1000 + 500 + 0  # closes in 10 and 5 days
    assert forecast.value("2027-01", "value") == 2000

    win = build("sales.win_rate", year())
    assert win.value(str(rep.pk), "won") == 1 and win.value(str(rep.pk), "lost") == 1
    assert win.value(str(rep.pk), "rate") == 50.0
    assert win.value(str(rep.pk), "cycle") == pytest.approx((25 + 90) / 2, abs=0.05)
    assert win.value(str(world.deals[3].owner_id), "won") == 1
    assert "0" not in [b for b, _ in win.categories]  # the unowned loss is older than the period


def test_service_numbers_equal_the_orm(world):
    f = year()
    opened = Ticket.objects.filter(opened_at__gte=f.start_at, opened_at__lt=f.end_at)
    volume = build("service.volume", f)
    for row in opened.values("category", "channel").annotate(n=Count("id")):
        assert volume.value(row["category"], row["channel"]) == row["n"]
    assert sum(sum(s.values) for s in volume.series) == opened.count() == 5

    sla = build("service.sla", f)
    # normal: one solved in 30 h with 24 h due (breached), one solved in 100 h with 200 h due (met)
    assert sla.value("normal", "met") == 1 and sla.value("normal", "breached") == 1
    assert sla.value("urgent", "breached") == 1  # open and past its 30-minute due time
    assert sla.value("high", "breached") == 1 and sla.value("normal", "rate") == 50.0  # open, 48 h passed

    times = build("service.times", f)
    assert times.value("1-4h", "first_response") == 1  # 2 h
    assert times.value("lt1h", "first_response") == 1  # 0.5 h
    assert times.value("4-8h", "first_response") == 1  # 5 h
    assert times.value("8-24h", "first_response") == 1  # 10 h
    assert times.value("1-3d", "resolution") == 1  # 30 h
    assert times.value("3-7d", "resolution") == 1  # 100 h
    assert times.value("gt7d", "resolution") == 1  # 200 h

    csat = build("service.csat", f)
    october = Ticket.objects.filter(satisfaction__created_at__month=10, satisfaction__created_at__year=2026)
    assert csat.value("2026-10", "n") == october.count() == 2
    assert csat.value("2026-10", "score") == 3.0  # (2 + 4) / 2

    backlog = build("service.backlog", f)
    assert backlog.value("0-1d", "urgent") == 0 and backlog.value("1-3d", "urgent") == 1
    assert backlog.value("1-3d", "high") == 0 and backlog.value("3-7d", "high") == 1


def test_receivables_numbers_equal_the_orm(world):
    f = year()
    ageing = build("receivables.ageing", f)
    assert ageing.value("not_due", "amount") == 100
    assert ageing.value("0-30", "amount") == 150  # 200 gross - 50 paid
    assert ageing.value("31-60", "amount") == 400 and ageing.value("90+", "amount") == 800
    open_total = sum(i.open_amount for i in Invoice.objects.open())
    assert sum(ageing.series[0].values) == float(open_total)

    levels = build("receivables.levels", f)
    for row in Invoice.objects.open().values("dunning_level").annotate(n=Count("id")):
        assert levels.value(str(row["dunning_level"]), "count") == row["n"]

    recovery = build("receivables.recovery", f)
    # level 1: three invoices noticed, one (T-5) paid at level 1
    assert recovery.value("1", "recovered") == 1 and recovery.value("1", "open") == 2
    assert recovery.value("2", "recovered") == 0 and recovery.value("2", "open") == 2
    assert recovery.value("1", "rate") == pytest.approx(33.3)

    promises = build("receivables.promises", f)
    assert promises.value("kept", "n") == 1 and promises.value("broken", "n") == 1

    dso = build("receivables.dso", f)
    billed = Invoice.objects.exclude(status__in=["draft", "cancelled"])
    receivables = sum(i.gross_total for i in billed) - Decimal("350")  # all payments were received by now
    assert dso.value("2026-11", "receivables") == float(receivables)
    sales = sum(i.gross_total for i in billed if i.issue_date > TODAY - datetime.timedelta(days=90))
    assert dso.value("2026-11", "dso") == pytest.approx(float(receivables / sales * 90), abs=0.05)


def test_marketing_numbers_equal_the_orm(world):
    f = year()
    funnel = build("marketing.funnel", f)
    for status in ("sent", "opened", "clicked"):
        direct = Touch.objects.filter(
            status=status, occurred_at__gte=f.start_at, occurred_at__lt=f.end_at
        ).count()
        assert funnel.value(str(world.campaign.pk), status) == direct
    assert funnel.value(str(world.campaign.pk), "clicked") == 2
    german = build("marketing.funnel", year(country="DE"))
    assert german.value(str(world.campaign.pk), "sent") == 1

    consents = build("marketing.consents", f)
    for change in ConsentChange.objects.all():
        bucket = change.changed_at.astimezone().strftime("%Y-%m")
        direct = ConsentChange.objects.filter(
            new_status=change.new_status, changed_at__year=change.changed_at.year,
            changed_at__month=change.changed_at.astimezone().month,
        ).count()  # fmt: skip
        assert consents.value(bucket, change.new_status) == direct


def test_customer_base_numbers_equal_the_orm(world):
    f = year()
    new_lost = build("customers.new_lost", f)
    assert new_lost.value("2026-10", "new") == 1  # bert, 40 days ago
    assert new_lost.value("2026-11", "new") == 1  # cora
    assert new_lost.value("2026-10", "lost") == 1  # dora: last contract cancelled 35 days ago
    assert sum(new_lost.series[1].values) == 1

    lifecycle = build("customers.lifecycle", f)
    for row in Customer.objects.values("lifecycle").annotate(n=Count("id")):
        assert lifecycle.value(row["lifecycle"], "n") == row["n"]

    concentration = build("customers.concentration", f)
    revenue = {
        c: sum(i.gross_total for i in Invoice.objects.filter(customer_id=c))
        for c in Invoice.objects.values_list("customer_id", flat=True)
    }
    top = max(revenue.values())
    assert concentration.value("1", "customers") == 1
    assert concentration.value("1", "share") == pytest.approx(
        float(100 * top / sum(revenue.values())), abs=0.05
    )
    assert concentration.value("100", "share") == 100.0

    risk = build("customers.churn_risk", f)
    assert sum(risk.series[0].values) == CustomerRisk.objects.count() == 3  # churned dora has no score
    cora = CustomerRisk.objects.get(customer=world.customers["cora"])
    assert {"at_risk", "open_complaint", "dunning", "no_active_contract"} <= set(cora.reasons)


def test_nba_numbers_equal_the_orm(world, rep):
    from analytics.dashboards.nba import success_kinds
    from insights.models import Recommendation

    f = year()
    by_action = build("nba.by_action", f)
    recent = Recommendation.objects.filter(created_at__gte=f.start_at)
    for row in recent.values("action").annotate(n=Count("id")):
        assert by_action.value(str(row["action"]), "shown") == row["n"]
    assert sum(by_action.series[1].values) == recent.filter(status="accepted").count() == 1
    assert sum(by_action.series[2].values) == 1 and sum(by_action.series[3].values) == 0  # completed is old
    by_rep = build("nba.by_rep", f)
    assert by_rep.value(str(rep.pk), "shown") == 2 and by_rep.value(str(rep.pk), "accepted") == 1
    lift = build("nba.lift", f)
    # anna (treated) converted: her payment in the period; cora (hold-out) made none.
    converted = {e.customer_id for e in TimelineEvent.objects.filter(kind__in=success_kinds())}
    assert lift.value("treated", "customers") == 2 and lift.value("holdout", "customers") == 2
    treated = len(converted & {world.customers["anna"].pk, world.customers["bert"].pk})
    assert lift.value("treated", "converted") == treated
    assert lift.value("treated", "rate") == round(100 * treated / 2, 2)
    low, high = lift.extra["ci"]
    assert low <= lift.extra["lift"] <= high


# --- drill-down -----------------------------------------------------------------------------------------
def test_every_drill_down_returns_exactly_the_records_behind_the_bar(world):
    f = year()
    checked = 0
    for board in dashboards.all():
        for definition in board.charts:
            chart = definition.build(f)
            keys = COUNT_SERIES.get(definition.key, [])
            series = [s for s in chart.series if s.drill and (keys is None or s.key in keys)]
            for s in series:
                for (bucket, _label), value in zip(chart.categories, s.values, strict=True):
                    drill = definition.drill(f, bucket, s.key)
                    assert drill.queryset.count() == value, (definition.key, bucket, s.key)
                    checked += 1
    assert checked > 80


def test_drill_down_page_lists_the_records_and_respects_filters(world, manager):
    client = client_for(manager)
    url = "/dashboards/receivables/receivables.ageing/drill/?period=12m&bucket=31-60&series=count"
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 200
    assert "T-3" in page and "T-2" not in page and "1 record" in page
    response = client.get("/dashboards/sales/sales.pipeline/drill/?period=12m&country=AT&bucket="
                          f"{world.deals[0].stage_id}&series=count")  # fmt: skip
    assert "Deal 1000" in response.content.decode() and "Deal 2000" not in response.content.decode()
    assert client.get("/dashboards/sales/sales.pipeline/drill/?bucket=nonsense").status_code == 404


# --- CSV and figures -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_are_neutralised(text):
    assert safe_cell(text) == "'" + text
    assert (
        safe_cell("Gruber") == "Gruber"
        and safe_cell(-5) == -5
        and safe_cell(Decimal("1.5")) == Decimal("1.5")
    )


def test_chart_csv_export_is_formula_safe(world, manager):
    response = client_for(manager).get("/dashboards/marketing/marketing.funnel/csv/?period=12m")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Campaign", "Sent", "Opened", "Clicked", "Converted"]
    assert rows[1] == ["'=HYPERLINK(evil)", "3", "2", "2", "0"]
    drill = client_for(manager).get(
        f"/dashboards/marketing/marketing.funnel/drill/?period=12m&bucket={world.campaign.pk}&series=clicked&format=csv"
    )
    drill_rows = list(csv.reader(io.StringIO(drill.content.decode("utf-8-sig"))))
    assert len(drill_rows) == 3 and drill_rows[1][1] == "'=HYPERLINK(evil)"


def test_figures_are_valid_plotly_with_the_colour_blind_palette(world):
    chart = build("service.volume", year())
    fig = go.Figure(figure(chart))  # validates every property
    assert fig.layout.title.text == chart.title
    assert [t.marker.color for t in fig.data][:2] == ["#0072B2", "#E69F00"]


# --- pages, permissions, query counts ---------------------------------------------------------------------
@pytest.mark.parametrize("key", ["sales", "service", "marketing", "receivables", "nba", "customers"])
def test_dashboard_pages_for_managers_with_bounded_queries(
    world, manager, key, django_assert_max_num_queries
):
    client = client_for(manager)
    with django_assert_max_num_queries(30):
        response = client.get(f"/dashboards/{key}/?period=90d&country=AT")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="card chart"') == len(dashboards.get(key).charts)
    # A chart with data has its table; an empty one a sentence instead of a drawn chart.
    empty = page.count("no records match, so there is no chart")
    assert page.count("<summary>Data table</summary>") + empty == len(dashboards.get(key).charts)
    assert page.count('class="plot"') == len(dashboards.get(key).charts) - empty
    assert "plotly/plotly.min.js" in page
    # Every script and stylesheet comes from our own static files, none from another host.
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', page)


def test_only_managers_and_admins_see_dashboards(world, role_users):
    for role, user in role_users.items():
        client = client_for(user)
        expected = 200 if role in ("Manager", "Admin") else 403
        for url in ("/dashboards/", "/dashboards/sales/", "/dashboards/listening/",
                    "/dashboards/sales/sales.pipeline/csv/", "/dashboards/customers/customers.lifecycle/drill/?bucket=customer"):  # fmt: skip
            assert client.get(url).status_code == expected, (role, url)


def test_filters_change_the_numbers(world, manager):
    client = client_for(manager)
    year_page = client.get("/dashboards/service/?period=12m").content.decode()
    month_page = client.get("/dashboards/service/?period=30d").content.decode()
    assert year_page != month_page
    volume = build("service.volume", Filters(*period_bounds("30d", TODAY), period="30d", today=TODAY))
    assert sum(sum(s.values) for s in volume.series) == 2  # tickets of the last 30 days


def test_incremental_rollup_refresh_only_touches_new_days(world):
    from analytics.models import RollupState
    from customer360 import timeline

    before = build("marketing.funnel", year()).value(str(world.campaign.pk), "opened")
    cora = world.customers["cora"]
    touch = Touch.objects.create(
        campaign=world.campaign, customer=cora, status="opened", occurred_at=at(TODAY)
    )
    timeline.record(customer=cora, department="marketing", kind="email.opened", title="opened",
                    idempotency_key="t:open:cora", occurred_at=touch.occurred_at)  # fmt: skip
    with time_machine.travel(at(TODAY, 13), tick=False):
        written = services.rollups_refresh()
    assert RollupState.objects.get(metric="marketing.touch").days_refreshed == 1
    assert written["marketing.consent"] == 0
    assert build("marketing.funnel", year()).value(str(world.campaign.pk), "opened") == before + 1


def test_api_returns_the_chart_data_for_managers_only(world, manager, rep):
    url = "/api/analytics/charts/service/service.volume/?period=12m"
    data = client_for(manager).get(url).json()
    chart = build("service.volume", year())
    assert data["key"] == "service.volume"
    assert [s["values"] for s in data["series"]] == [[float(v) for v in s.values] for s in chart.series]
    assert client_for(rep).get(url).status_code == 403
    assert client_for(manager).get("/api/analytics/charts/service/nonsense/").status_code == 404
    assert client_for(manager).get("/api/analytics/topics/").status_code == 200


def test_nba_charts_follow_the_rollup_refresh_and_its_filters(world, rep, rep2):
    """The NBA charts read roll-ups (issue #18: a million customers): a recommendation accepted
    now counts as accepted once the roll-ups are refreshed (the beat task; never before), and an
    owner filter keeps exactly that rep's customers, as the rows themselves say."""
    from insights.models import Recommendation

    f = year()
    open_rec = Recommendation.objects.filter(status="open", created_at__gte=f.start_at).first()
    assert open_rec is not None
    before = build("nba.by_action", f).value(str(open_rec.action_id), "accepted")
    Recommendation.objects.filter(pk=open_rec.pk).update(status="accepted")
    with time_machine.travel(at(TODAY), tick=False):
        assert build("nba.by_action", f).value(str(open_rec.action_id), "accepted") == before
        services.rollups_refresh()
        assert build("nba.by_action", f).value(str(open_rec.action_id), "accepted") == before + 1
        for owner in (rep, rep2):
            mine = Recommendation.objects.filter(created_at__gte=f.start_at, customer__owner=owner)
            chart = build("nba.by_rep", year(owner=owner.pk))
            assert [c for c, _label in chart.categories] == ([str(owner.pk)] if mine.exists() else [])
            if mine.exists():
                assert chart.value(str(owner.pk), "shown") == mine.count()
                assert chart.value(str(owner.pk), "accepted") == mine.filter(status="accepted").count()


def test_customer_snapshots_follow_the_rollup_refresh(world, rep):
    """Lifecycle mix and learned churn-risk bands are snapshots in the roll-ups: counted as of the
    last refresh, per owner as the customers themselves say."""
    f = year()
    moved = Customer.objects.exclude(lifecycle="churned").order_by("pk").first()
    was = moved.lifecycle
    before = build("customers.lifecycle", f)
    Customer.objects.filter(pk=moved.pk).update(lifecycle="churned")
    assert build("customers.lifecycle", f).series[0].values == before.series[0].values
    with time_machine.travel(at(TODAY), tick=False):
        services.rollups_refresh()
        after = build("customers.lifecycle", f)
        assert after.value("churned", "n") == before.value("churned", "n") + 1
        assert after.value(was, "n") == before.value(was, "n") - 1
        mine = build("customers.lifecycle", year(owner=rep.pk))
        for row in Customer.objects.filter(owner=rep).values("lifecycle").annotate(n=Count("id")):
            assert mine.value(row["lifecycle"], "n") == row["n"]


def test_service_charts_follow_the_refresh_on_the_day_the_ticket_was_opened(world, service_user):
    """A reply and a solution today count on the day the ticket was opened (its bar of the time
    chart), once the incremental refresh has run; only that day is recomputed."""
    from analytics.models import RollupState
    from crm.services.tickets import ticket_reply, ticket_solve

    f = year()
    ticket = Ticket.objects.filter(first_response_at__isnull=True, status__in=Ticket.OPEN_STATUSES).first()
    assert ticket is not None and ticket.opened_at.date() < TODAY
    took = at(TODAY, 12) - ticket.opened_at
    band = next(k for k, lo, hi in rollups.TICKET_TIME_BANDS if took >= lo and (hi is None or took < hi))
    before = build("service.times", f)
    with time_machine.travel(at(TODAY, 12), tick=False):
        ticket_reply(ticket=ticket, user=service_user, body="We are on it.")
        ticket_solve(ticket=Ticket.objects.get(pk=ticket.pk), user=service_user)
        assert build("service.times", f).series == before.series  # as of the last refresh
        services.rollups_refresh()
        after = build("service.times", f)
    assert after.value(band, "first_response") == before.value(band, "first_response") + 1
    assert after.value(band, "resolution") == before.value(band, "resolution") + 1
    assert RollupState.objects.get(metric="service.times").days_refreshed == 1
    opened = Ticket.objects.filter(opened_at__gte=f.start_at, opened_at__lt=f.end_at)
    assert sum(sum(s.values) for s in build("service.volume", f).series) == opened.count()
    if ticket.assignee_id:
        mine = build("service.volume", year(owner=ticket.assignee_id))
        assert sum(sum(s.values) for s in mine.series) == opened.filter(assignee=ticket.assignee_id).count()


def test_recovery_follows_the_refresh_on_the_day_the_notice_was_sent(world):
    """An invoice paid today after a notice weeks ago counts as recovered at that notice's level, on
    the day the notice was sent, once the incremental refresh has run."""
    from billing.models import DunningNotice
    from billing.services import invoice_record_payment

    f = year()
    notice = (
        DunningNotice.objects.filter(sent_at__gte=f.start_at, invoice__status__in=Invoice.OPEN_STATUSES)
        .select_related("invoice")
        .order_by("-level")
        .first()
    )
    assert notice is not None and notice.invoice.dunning_level == notice.level
    level = str(notice.level)
    before = build("receivables.recovery", f)
    with time_machine.travel(at(TODAY, 12), tick=False):
        invoice = Invoice.objects.get(pk=notice.invoice_id)
        invoice_record_payment(invoice=invoice, amount=invoice.open_amount)
        assert build("receivables.recovery", f).series == before.series  # as of the last refresh
        services.rollups_refresh()
        after = build("receivables.recovery", f)
    assert after.value(level, "recovered") == before.value(level, "recovered") + 1
    assert after.value(level, "open") == before.value(level, "open") - 1


def test_sales_charts_follow_the_refresh(world, rep):
    """A deal won today leaves the open pipeline and counts as won today for its owner, once the
    incremental refresh has run (the open deals are a snapshot, the closed ones daily rows)."""
    from crm.services.deals import deal_mark_won

    f = year()
    deal = Deal.objects.filter(status="open", owner=rep).select_related("stage").first()
    before_pipeline, before_win = build("sales.pipeline", f), build("sales.win_rate", f)
    with time_machine.travel(at(TODAY, 15), tick=False):
        deal_mark_won(deal=deal, user=rep)
        assert build("sales.pipeline", f).series == before_pipeline.series  # as of the last refresh
        services.rollups_refresh()
        pipeline, win = build("sales.pipeline", f), build("sales.win_rate", f)
    stage = str(deal.stage.pk)
    assert pipeline.value(stage, "count") == before_pipeline.value(stage, "count") - 1
    assert pipeline.value(stage, "value") == before_pipeline.value(stage, "value") - float(deal.amount)
    assert win.value(str(rep.pk), "won") == before_win.value(str(rep.pk), "won") + 1
    days = (at(TODAY, 15) - deal.created_at).total_seconds() / 86400
    assert win.value(str(rep.pk), "cycle") == pytest.approx((25 + 90 + days) / 3, abs=0.05)

"""Services, imports and demo seeders build crm's events the same way (crm.events): for the same
record, the same title, payload keys, audience, channel and direction on every path."""

from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from crm import demo, services
from crm.models import Deal, Satisfaction, Stage, Ticket
from customer360 import events
from customer360.models import TimelineEvent
from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import mapping, run_file

pytestmark = pytest.mark.django_db
VIENNA = ZoneInfo("Europe/Vienna")


def shape(kind, title, payload, audience, channel, direction) -> tuple:
    return (kind, title, tuple(sorted(payload)), audience, channel, direction)


def stored(**filters) -> dict[str, tuple]:
    rows = TimelineEvent.objects.filter(**filters)
    return {e.kind: shape(e.kind, e.title, e.payload, e.audience, e.channel, e.direction) for e in rows}


def built(event_data) -> dict[str, tuple]:
    return {e.kind: shape(e.kind, e.title, e.payload, e.audience, e.channel, e.direction) for e in event_data}


def test_ticket_events_are_identical_from_services_imports_and_demo(service_user, import_sandbox):
    customer = CustomerFactory()
    ticket = make_ticket(
        service_user, customer=customer, subject="Lieferung verspätet", category="complaint", channel="phone"
    )
    services.ticket_solve(ticket=ticket, user=service_user)
    services.ticket_record_csat(ticket=ticket, score=2, comment="Zu langsam.", user=service_user)
    from_services = stored(source_id=str(ticket.pk), department="service")

    ticket.refresh_from_db()
    rating = Satisfaction.objects.get(ticket=ticket)
    from_demo = built(demo._service_events([ticket], [rating]))

    source = DataSourceFactory(slug="helpdesk", target="crm.ticket", department="service")
    rows = "Ticket;Kundennr;Betreff;Kategorie;Kanal;Status;Eröffnet;Gelöst;CSAT;Kommentar\n"
    rows += (
        "T-1;K-1;Lieferung verspätet;complaint;phone;solved;2025-03-01 09:00;2025-03-02 10:00;2;Zu langsam.\n"
    )
    columns = mapping(
        ticket_id="Ticket",
        external_id="Kundennr",
        subject="Betreff",
        category="Kategorie",
        channel="Kanal",
        status="Status",
        opened_at="Eröffnet",
        solved_at="Gelöst",
        csat="CSAT",
        csat_comment="Kommentar",
    )
    run_file(source, rows, columns)
    imported = Ticket.objects.get(external_source="helpdesk", external_id="T-1")
    from_import = stored(source_id=str(imported.pk), department="service")

    assert sorted(from_services) == ["csat.received", "ticket.opened", "ticket.solved"]
    assert from_services == from_demo == from_import
    assert from_services["ticket.opened"][1] == "Complaint opened: Lieferung verspätet"
    assert from_services["csat.received"][1] == "Satisfaction 2/5 for ticket: Lieferung verspätet"
    assert from_services["ticket.opened"][4:] == ("phone", "inbound")


def demo_deal_events(deal: Deal) -> dict[str, tuple]:
    deal = Deal.objects.select_related("stage").get(pk=deal.pk)
    return built(demo._sales_events([], [(deal, None, deal.created_at)], [], {}))


def test_deal_events_are_identical_from_services_imports_and_demo(rep, import_sandbox):
    won = make_deal(rep, title="Basic plan", amount=290)
    services.deal_mark_won(deal=won, user=rep)
    lost = make_deal(rep, title="Renewal offer", amount=290)
    services.deal_mark_lost(deal=lost, user=rep, reason="No budget")

    source = DataSourceFactory(slug="erp", target="crm.deal", department="sales")
    rows = "DealID;Kunde;Titel;Betrag;Phase;Status;Grund\nD-1;K-1;Basic plan;290;Won;;\n"
    rows += "D-2;K-2;Renewal offer;290;;verloren;No budget\n"
    columns = mapping(
        deal_id="DealID",
        external_id="Kunde",
        title="Titel",
        amount="Betrag",
        stage="Phase",
        status="Status",
        lost_reason="Grund",
    )
    run_file(source, rows, columns)
    imported = {d.external_id: d for d in Deal.objects.exclude(external_id="")}

    for deal, external_id, closing in ((won, "D-1", "deal.won"), (lost, "D-2", "deal.lost")):
        from_services = stored(source_id=str(deal.pk), department="sales")
        from_import = stored(source_id=str(imported[external_id].pk), department="sales")
        assert sorted(from_services) == sorted(["deal.created", closing])
        assert from_services == demo_deal_events(deal) == from_import
    assert stored(source_id=str(won.pk))["deal.won"][1] == "Deal won: Basic plan, EUR 290.00"
    assert stored(source_id=str(lost.pk))["deal.lost"][1] == "Deal lost: Renewal offer (No budget)"


def test_activity_and_contract_events_are_identical_from_services_and_demo(rep):
    customer = CustomerFactory(owner=rep)
    call = make_activity(rep, customer, subject="Check-in", outcome="reached")
    contract = make_contract(rep, customer)
    services.contract_cancel(contract=contract, user=rep)
    contract.refresh_from_db()
    from_services = stored(customer=customer)

    from_demo = built(demo._sales_events([(contract, None)], [], [call], {}))

    assert sorted(from_services) == ["call.logged", "contract.cancelled", "contract.started"]
    assert from_services == from_demo
    assert from_services["call.logged"][1:] == (
        "Call: Check-in (Reached)",
        ("activity_id", "follow_up", "outcome", "subject"),
        "",
        "phone",
        "outbound",
    )


def test_every_crm_kind_renders_in_german_with_german_formats(rep):
    deal = make_deal(rep, title="Premium", amount=1240)
    services.deal_move_stage(deal=deal, stage=Stage.objects.get(name="Proposal"), user=rep)
    call = make_activity(rep, deal.customer, subject="Rückruf", outcome="no_answer")
    event = TimelineEvent.objects.get(kind="deal.created")
    with translation.override("de"):
        assert event.display_title == "Verkaufschance angelegt: Premium, EUR 1.240,00"
        moved = TimelineEvent.objects.get(kind="deal.stage_changed")
        assert moved.display_title.startswith("Verkaufschance Premium von Qualification nach Proposal")
        logged = TimelineEvent.objects.get(source_id=str(call.pk), kind="call.logged")
        assert logged.display_title == "Anruf: Rückruf (Keine Antwort)"
    crm_kinds = [events.get(k) for k in events.kinds(department="sales") + events.kinds(department="service")]
    with translation.override("en"):
        english = [(str(k.label), str(k.title)) for k in crm_kinds]
    with translation.override("de"):
        german = [(str(k.label), str(k.title)) for k in crm_kinds]
    assert [en for en, de in zip(english, german, strict=True) if en[1] == de[1]] == []

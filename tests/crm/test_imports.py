"""Import targets crm.ticket and crm.deal: files through the real import service, and the bulk API."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from crm.models import Deal, Satisfaction, Ticket
from customer360.models import Customer, TimelineEvent
from customer360.sources import services
from customer360.sources.models import ImportRun
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, errors, kinds, mapping, run_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]
VIENNA = ZoneInfo("Europe/Vienna")


# --- Tickets ---------------------------------------------------------------------------------------
TICKET_MAPPING = mapping(
    ticket_id="Ticket",
    external_id="Kundennr",
    email="E-Mail",
    subject="Betreff",
    category="Kategorie",
    priority="Priorität",
    status="Status",
    opened_at="Eröffnet",
    solved_at="Gelöst",
    csat="CSAT",
)
TICKETS = """Ticket;Kundennr;E-Mail;Betreff;Kategorie;Priorität;Status;Eröffnet;Gelöst;CSAT
T-1;K-1;anna@example.com;Lieferung verspätet;Beschwerde;hoch;solved;2025-03-01 09:00;2025-03-02 10:00;2
T-2;K-2;bert@example.com;Frage zur Rechnung;question;normal;open;2025-03-03 08:00;;
T-3;K-3;;Kaputt;unbekannt;normal;open;2025-03-03 08:00;;
T-4;;;Ohne Kunde;question;normal;open;2025-03-03 08:00;;
T-1;K-1;anna@example.com;Lieferung verspätet;Beschwerde;hoch;solved;2025-03-01 09:00;2025-03-02 10:00;2
"""


def test_ticket_file_creates_tickets_customers_and_one_event_per_state_then_reruns_unchanged():
    source = DataSourceFactory(slug="helpdesk", target="crm.ticket", department="service")

    run = run_file(source, TICKETS, TICKET_MAPPING)

    assert run.status == ImportRun.Status.DONE
    assert counts(run) == (2, 0, 0, 1, 2)
    first = Ticket.objects.get(external_source="helpdesk", external_id="T-1")
    assert (first.category, first.priority, first.status) == ("complaint", "high", "solved")
    assert first.solved_at == datetime(2025, 3, 2, 10, 0, tzinfo=VIENNA)
    assert first.first_response_due is None  # the source system ran the SLA
    assert Satisfaction.objects.get(ticket=first).score == 2
    assert first.customer.identities.filter(kind="external_id", source="helpdesk", value="K-1").exists()
    assert kinds(payload__ticket_id=first.pk) == ["csat.received", "ticket.opened", "ticket.solved"]
    opened = TimelineEvent.objects.get(idempotency_key="helpdesk:crm.ticket:T-1:opened")
    assert (opened.title, opened.department, opened.direction) == (
        "Complaint opened: Lieferung verspätet",
        "service",
        "inbound",
    )
    assert opened.occurred_at == datetime(2025, 3, 1, 9, 0, tzinfo=VIENNA)
    assert opened.source_url == f"/sales/tickets/{first.pk}/"
    assert kinds(payload__ticket_id=Ticket.objects.get(external_id="T-2").pk) == ["ticket.opened"]
    assert errors(run) == {
        "4": 'Column "Kategorie": "unbekannt" is not one of question, complaint, technical, billing, '
        "delivery, other",
        "5": "No customer identifier: map an external id, e-mail or phone column.",
    }

    again = run_file(source, TICKETS, TICKET_MAPPING)

    assert counts(again) == (0, 0, 2, 1, 2)
    assert (Ticket.objects.count(), Customer.objects.count(), TimelineEvent.objects.count()) == (2, 2, 4)


def test_ticket_reimport_applies_changes_once_and_refuses_a_second_rating():
    source = DataSourceFactory(slug="helpdesk", target="crm.ticket", department="service")
    run_file(source, TICKETS, TICKET_MAPPING)
    changed = """Ticket;Kundennr;Betreff;Status;Gelöst;CSAT
T-2;K-2;Frage zur Rechnung (Mahnung);geschlossen;2025-03-04 12:00;5
T-1;K-1;Lieferung verspätet;solved;2025-03-02 10:00;4
"""
    run = run_file(
        source,
        changed,
        mapping(
            ticket_id="Ticket",
            external_id="Kundennr",
            subject="Betreff",
            status="Status",
            solved_at="Gelöst",
            csat="CSAT",
        ),
    )

    assert counts(run) == (0, 1, 0, 0, 1)
    second = Ticket.objects.get(external_id="T-2")
    assert (second.subject, second.status, second.satisfaction.score) == (
        "Frage zur Rechnung (Mahnung)",
        "closed",
        5,
    )
    assert kinds(payload__ticket_id=second.pk) == [
        "csat.received",
        "ticket.closed",
        "ticket.opened",
        "ticket.solved",
    ]
    assert errors(run) == {"3": 'Column "CSAT": "4" differs from the rating already recorded (2)'}
    assert Satisfaction.objects.get(ticket__external_id="T-1").score == 2


def _post(token, records):
    return Client().post(
        "/api/sources/helpdesk-api/records",
        json.dumps({"records": records}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_ticket_bulk_api_is_idempotent_by_ticket_id_and_reopens_with_an_event_of_its_own():
    source = DataSourceFactory(slug="helpdesk-api", kind="api", target="crm.ticket", department="service")
    token = services.source_issue_token(source=source)
    solved = {
        "ticket_id": "Z-9",
        "email": "carla@example.com",
        "subject": "Passwort vergessen",
        "channel": "chat",
        "status": "solved",
        "opened_at": "2025-04-01T10:00:00+02:00",
        "solved_at": "2025-04-01T10:30:00+02:00",
    }
    records = [
        solved,
        {"email": "x@example.com", "subject": "ohne id"},
        {**solved, "ticket_id": "Z-10", "priority": "sofort"},
    ]

    body = _post(token, records).json()

    assert [(r["status"], r["reason"]) for r in body["results"]] == [
        ("accepted", ""),
        ("rejected", 'Column "ticket_id, ticket_id": "" is required'),  # core repeats the id field
        ("rejected", 'Column "priority": "sofort" is not one of low, normal, high, urgent'),
    ]
    ticket = Ticket.objects.get(external_source="helpdesk-api", external_id="Z-9")
    assert (ticket.channel, ticket.status, ticket.customer.email) == ("chat", "solved", "carla@example.com")
    assert _post(token, [solved]).json()["results"][0]["status"] == "duplicate"

    body = _post(token, [{"ticket_id": "Z-9", "status": "open"}]).json()  # no customer needed for a known id

    assert body["results"][0]["status"] == "accepted"
    ticket.refresh_from_db()
    assert (ticket.status, ticket.reopen_count, ticket.solved_at) == ("open", 1, None)
    assert kinds(payload__ticket_id=ticket.pk) == ["ticket.opened", "ticket.reopened", "ticket.solved"]
    assert TimelineEvent.objects.filter(idempotency_key="helpdesk-api:crm.ticket:Z-9:reopened:1").count() == 1


# --- Deals -----------------------------------------------------------------------------------------
DEAL_MAPPING = mapping(
    deal_id="DealID",
    external_id="Kunde",
    title="Titel",
    amount="Betrag",
    stage="Phase",
    expected_close="Abschluss",
    status="Status",
    lost_reason="Grund",
)
DEALS = """DealID;Kunde;Titel;Betrag;Phase;Abschluss;Status;Grund
D-1;K-1;Premium upgrade;1.290,00;Proposal;30.06.2025;;
D-2;K-2;Basic plan;290;Won;;;
D-3;K-3;Zu teuer;100;Negotiation;;verloren;Too expensive
D-4;K-4;Falsche Phase;50;Angebot;;;
D-5;K-5;;50;Proposal;;;
"""


def test_deal_file_maps_stages_and_statuses_with_events_then_reruns_unchanged():
    source = DataSourceFactory(slug="erp", target="crm.deal", department="sales")

    run = run_file(source, DEALS, DEAL_MAPPING)

    assert counts(run) == (3, 0, 0, 0, 2)
    deals = {d.external_id: d for d in Deal.objects.select_related("stage")}
    assert (deals["D-1"].stage.name, deals["D-1"].status, str(deals["D-1"].amount)) == (
        "Proposal",
        "open",
        "1290.00",
    )
    assert str(deals["D-1"].expected_close) == "2025-06-30"
    assert (deals["D-2"].stage.name, deals["D-2"].status) == ("Won", "won")
    assert (deals["D-3"].stage.name, deals["D-3"].status, deals["D-3"].lost_reason) == (
        "Lost",
        "lost",
        "Too expensive",
    )
    assert kinds(department="sales") == [
        "deal.created",
        "deal.created",
        "deal.created",
        "deal.lost",
        "deal.won",
    ]
    won = TimelineEvent.objects.get(idempotency_key="erp:crm.deal:D-2:won")
    assert won.title == "Deal won: Basic plan, EUR 290.00"
    assert won.payload == {
        "deal_id": deals["D-2"].pk,
        "title": "Basic plan",
        "amount": "290.00",
        "stage": "Won",
    }
    assert errors(run) == {
        "5": 'Column "Phase": "Angebot" is not a stage of the pipeline "Sales" '
        "(Qualification, Proposal, Negotiation, Won, Lost)",
        "6": 'Column "Titel": "" is empty, but a new record needs it',
    }

    again = run_file(source, DEALS, DEAL_MAPPING)

    assert counts(again) == (0, 0, 3, 0, 2)
    assert (Deal.objects.count(), TimelineEvent.objects.count()) == (3, 5)


def test_deal_reimport_moves_stage_once_and_keeps_closed_deals_closed():
    source = DataSourceFactory(slug="erp", target="crm.deal", department="sales")
    run_file(source, DEALS, DEAL_MAPPING)
    changed = "DealID;Phase;Status\nD-1;Negotiation;\nD-2;;open\n"
    columns = mapping(deal_id="DealID", stage="Phase", status="Status")

    run = run_file(source, changed, columns)
    rerun = run_file(source, changed, columns)

    assert counts(run) == (0, 1, 0, 0, 1)
    assert counts(rerun) == (0, 0, 1, 0, 1)
    moved = TimelineEvent.objects.get(kind="deal.stage_changed")
    assert moved.title == "Deal Premium upgrade moved from Proposal to Negotiation"
    assert Deal.objects.get(external_id="D-1").stage_changes == 1
    assert errors(run) == {"3": 'Column "Status": "open" cannot be applied: the deal is already won'}

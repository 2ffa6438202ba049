"""A demo-like person with records in every app, arriving the way real data arrives: a CSV
import (so an upload file names them), then sales, service, marketing, billing, the feed and a
recommendation."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from analytics.models import ListenedMessage
from customer360.models import Customer
from insights.models import Action, Recommendation
from marketing import services as marketing_services
from marketing.models import ConsentWording
from tests.billing.factories import make_invoice
from tests.collab.factories import accept_conduct, post
from tests.crm.factories import make_activity, make_contract, make_deal, make_ticket
from tests.marketing.factories import grant, running_campaign
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

EMAIL = "franziska.huber@example.at"
PHONE = "+436641234567"
CSV = (
    "Kundennummer;Vorname;Nachname;E-Mail;Telefon;Ort\n"
    f"K-4711;Franziska;Huber;{EMAIL};0664 1234567;Wien\n"
    "K-4712;Otto;Normal;otto@example.at;0664 7654321;Graz\n"
).encode()
MAPPING = {
    "fields": [
        {"column": "Kundennummer", "field": "external_id"},
        {"column": "Vorname", "field": "first_name"},
        {"column": "Nachname", "field": "last_name"},
        {"column": "E-Mail", "field": "email"},
        {"column": "Telefon", "field": "phone"},
        {"column": "Ort", "field": "city"},
    ],
    "options": {"delimiter": ";", "region": "AT"},
}


@dataclass
class World:
    customer: Customer
    other: Customer
    source: object
    run: object
    invoice: object
    gross: Decimal
    paid: Decimal


def build_world(user) -> World:
    source = DataSourceFactory(slug="erp", kind="csv", target="customers", department="sales")
    run = run_import(source, CSV, MAPPING, name="kunden.csv")
    customer = Customer.objects.get(email=EMAIL)
    other = Customer.objects.get(email="otto@example.at")
    make_deal(user, customer, title="Premium für Franziska Huber")
    ticket = make_ticket(
        user, customer, subject="Huber: Lieferung verspätet", description=f"Rückruf an {PHONE}"
    )
    from crm import services as crm_services

    crm_services.ticket_reply(ticket=ticket, user=user, body="Liebe Frau Huber, wir kümmern uns.")
    make_activity(user, customer, notes="Anruf bei Franziska Huber")
    make_contract(user, customer)
    ConsentWording.objects.create(version="v1", language="de", text="Ich möchte den Newsletter erhalten.")
    grant(customer)
    campaign = running_campaign(channel="email", purpose="newsletter")
    marketing_services.touch_record(campaign=campaign, customer=customer, status="sent", external_id="mail-1")
    invoice = make_invoice(customer, amount="100.00")
    from billing import services as billing_services

    billing_services.invoice_record_payment(
        invoice=invoice, amount=Decimal("50.00"), reference="Huber Franziska"
    )
    invoice.refresh_from_db()
    accept_conduct(user)
    note = post(user, f"Wer kennt #{customer.customer_number}? Sie hat angerufen ({EMAIL}).")
    from collab import services as collab_services

    collab_services.comment_create(
        post=note, author=user, body=f"Ja, #{customer.customer_number} ist Stammkundin."
    )
    Recommendation.objects.create(
        customer=customer,
        action=Action.objects.order_by("pk").first(),
        priority=5,
        propensity=0.2,
        value=25,
        reasons=[{"text": "2 offene Tickets"}],
    )
    # What listening read of the customer's own words (analytics keeps it for sentiment and topics).
    ListenedMessage.objects.create(
        source=ListenedMessage.Source.TICKET,
        source_id=1,
        customer=customer,
        occurred_at=datetime.datetime.now(tz=datetime.UTC),
        text="Die Lieferung ist schon wieder zu spät.",
        sentiment=-0.5,
    )
    # Someone opened the person's 360 page: the access log about them belongs to their export.
    from customer360.audit.access import Action as AccessAction
    from customer360.audit.access import record_access

    record_access(None, AccessAction.VIEW_360, customers=[customer.pk], user=user, what="360 page")
    return World(customer, other, source, run, invoice, invoice.gross_total, invoice.paid_amount)


def today() -> datetime.date:
    return datetime.date.today()

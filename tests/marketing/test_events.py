"""Services, the touch import and demo data write the same marketing events (marketing.events), and
the timeline renders them in the reader's language."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from customer360 import events
from customer360.demo import run_seeders
from customer360.models import Customer, TimelineEvent
from customer360.sources import identity
from marketing import services
from marketing.models import Touch
from tests.marketing.factories import grant, running_campaign
from tests.marketing.test_imports import run_file
from tests.sources.factories import DataSourceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]
VIENNA = ZoneInfo("Europe/Vienna")
STATUSES = ["sent", "delivered", "opened", "clicked", "converted", "bounced", "unsubscribed"]


def shapes(kind_prefix: str) -> list[tuple]:
    """What must agree between the paths: kind, title, payload, audience, channel, direction."""
    rows = TimelineEvent.objects.filter(kind__startswith=kind_prefix).order_by("occurred_at", "id")
    return [(e.kind, e.title, e.payload, e.audience, e.channel, e.direction) for e in rows]


def test_services_and_import_write_identical_touch_events():
    [(customer_id, _created)] = identity.resolve([{"email": "anna@example.com"}], source_slug="web")
    anna = Customer.objects.get(pk=customer_id)
    grant(anna, occurred_at=datetime(2025, 1, 1, tzinfo=VIENNA))
    spring = running_campaign(name="Spring newsletter", channel="email", purpose="newsletter")
    for minute, status in enumerate(STATUSES):
        when = datetime(2025, 3, 1, 10, minute, tzinfo=VIENNA)
        services.touch_record(
            campaign=spring, customer=anna, status=status, external_id=f"s{minute}", occurred_at=when
        )
    by_services = shapes("email.")
    TimelineEvent.objects.filter(kind__startswith="email.").delete()
    Touch.objects.all().delete()

    source = DataSourceFactory(slug="mailer", target="marketing.touch", department="marketing")
    report = "Event ID;Campaign;E-Mail;Event;Date\n" + "".join(
        f"i{minute};Spring newsletter;anna@example.com;{status};2025-03-01 10:{minute:02d}\n"
        for minute, status in enumerate(STATUSES)
    )
    run_file(source, report)
    by_import = shapes("email.")

    assert by_import == by_services
    assert [row[:2] for row in by_services][:3] == [
        ("email.sent", 'Sent "Spring newsletter" (e-mail)'),
        ("email.delivered", 'Delivered "Spring newsletter" (e-mail)'),
        ("email.opened", 'Opened "Spring newsletter" (e-mail)'),
    ]
    assert [row[5] for row in by_services] == [
        "outbound", "outbound", "inbound", "inbound", "inbound", "outbound", "inbound"
    ]  # fmt: skip


def test_demo_events_have_the_declared_payloads_and_titles():
    """Consent and touch events of the demo are what the declarations build: the stored title is
    the English rendering of the payload, the payload holds exactly the declared fields."""
    run_seeders(count=40, seed=5, today=date(2026, 11, 27), stdout=lambda *_: None, only=["marketing"])
    seen = set()
    for event in TimelineEvent.objects.filter(department="marketing"):
        declaration = events.get(event.kind)
        assert declaration is not None, event.kind
        assert sorted(event.payload) == sorted(f.name for f in declaration.fields)
        assert event.title == declaration.stored_texts(event.payload)[0]
        assert event.direction == declaration.direction
        seen.add(event.kind)
    assert {"consent.given", "email.sent", "email.opened"} <= seen


def test_consent_titles_render_in_german():
    [(customer_id, _created)] = identity.resolve([{"email": "gruber@example.com"}], source_slug="web")
    gruber = Customer.objects.get(pk=customer_id)
    grant(gruber, channel="phone", purpose="offers")
    services.consent_withdraw(customer=gruber, channel="phone", purpose="offers", reason="no calls")
    pending = grant(gruber, confirmed=False)
    services.consent_confirm(consent=pending)
    rows = list(TimelineEvent.objects.filter(kind__startswith="consent.").order_by("id"))
    assert [e.title for e in rows] == [
        "Consent given: phone offers (Web form)",
        "Consent withdrawn: phone offers",
        "Consent requested: e-mail newsletter (awaiting e-mail confirmation)",
        "Consent confirmed: e-mail newsletter (double opt-in)",
    ]
    with translation.override("de"):
        assert [e.display_title for e in rows] == [
            "Einwilligung erteilt: Telefon-Angebote (Webformular)",
            "Einwilligung widerrufen: Telefon-Angebote",
            "Einwilligung angefragt: E-Mail-Newsletter (wartet auf Bestätigung per E-Mail)",
            "Einwilligung bestätigt: E-Mail-Newsletter (Double-Opt-in)",
        ]

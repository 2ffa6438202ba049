"""marketing's data migration 0004: old consent and touch events get the payload fields
marketing.events declares, so that they render in the reader's language too.

PostgreSQL builds the fields in SQL, other databases in Python: both must write exactly what the
services write (and, on PostgreSQL, exactly what the Python path writes, edge cases included)."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone, translation

from customer360.models import TimelineEvent
from marketing import services
from marketing.models import Consent
from tests.marketing.factories import grant, running_campaign

pytestmark = pytest.mark.django_db
migration = importlib.import_module("marketing.migrations.0004_backfill_event_payloads")
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL path is PostgreSQL's")

# The fields the migration fills (the others are what old events already carried).
CONSENT_FILLED = ("method", "step")
TOUCH_FILLED = ("channel",)

GERMAN_TITLES = {
    "Einwilligung angefragt: E-Mail-Newsletter (wartet auf Bestätigung per E-Mail)",
    "Einwilligung bestätigt: E-Mail-Newsletter (Double-Opt-in)",
    "Einwilligung erteilt: Telefon-Angebote (Telefon)",
    "Einwilligung erteilt: SMS-Umfragen (Webformular)",
}


@pytest.fixture
def marketing_history(customer):
    """Consents requested, confirmed and given; touches of three channels, one unsubscribing."""
    pending = grant(customer, confirmed=False)
    services.consent_confirm(consent=pending)
    services.consent_grant(customer=customer, channel="phone", purpose="offers", method=Consent.Method.PHONE)
    grant(customer, channel="sms", purpose="surveys")
    touches = {
        ("email", "newsletter"): ("sent", "delivered", "opened", "clicked", "unsubscribed"),
        ("phone", "offers"): ("sent", "converted"),
        ("sms", "surveys"): ("sent", "bounced"),
    }
    for (channel, purpose), statuses in touches.items():
        campaign = running_campaign(name=f"Spring {channel}", channel=channel, purpose=purpose)
        for status in statuses:
            services.touch_record(campaign=campaign, customer=customer, status=status)
    return payloads()


def payloads() -> dict[int, dict]:
    return dict(TimelineEvent.objects.filter(department="marketing").values_list("pk", "payload"))


def make_old(written: dict[int, dict]) -> None:
    """Each event's payload as before the declarations: without the fields the migration fills."""
    for event in TimelineEvent.objects.filter(pk__in=written):
        filled = CONSENT_FILLED if event.kind == "consent.given" else TOUCH_FILLED
        if event.kind == "consent.withdrawn":
            filled = ()
        old = {key: value for key, value in written[event.pk].items() if key not in filled}
        TimelineEvent.objects.filter(pk=event.pk).update(payload=old)


def run_migration() -> None:
    # The migration reads only the connection of its schema editor (vendor and cursor).
    migration.forward(apps, SimpleNamespace(connection=connection))


def test_old_events_get_back_what_the_services_wrote_and_read_in_german(marketing_history):
    kinds = set(TimelineEvent.objects.filter(pk__in=marketing_history).values_list("kind", flat=True))
    assert {"consent.given", "consent.withdrawn", "email.clicked", "phone.converted", "sms.bounced"} <= kinds
    make_old(marketing_history)
    assert TimelineEvent.objects.filter(kind="email.opened").get().payload.get("channel") is None

    run_migration()

    assert payloads() == marketing_history
    with translation.override("de"):
        consents = {e.display_title for e in TimelineEvent.objects.filter(kind="consent.given")}
        opened = TimelineEvent.objects.get(kind="email.opened").display_title
        converted = TimelineEvent.objects.get(kind="phone.converted").display_title
    assert consents == GERMAN_TITLES
    assert opened == "„Spring email“ geöffnet (E-Mail)"
    assert converted == "Abschluss über „Spring phone“ (Telefon)"


def test_keys_a_payload_has_win_and_other_departments_are_left_alone(marketing_history, customer):
    make_old(marketing_history)
    given = TimelineEvent.objects.filter(kind="consent.given").order_by("pk").first()
    TimelineEvent.objects.filter(pk=given.pk).update(payload={**given.payload, "step": "given"})
    foreign = TimelineEvent.objects.create(
        customer=customer,
        department="sales",
        kind="email.sent",
        title="Sent a quote",
        idempotency_key="foreign",
        occurred_at=timezone.now(),
    )

    run_migration()

    given.refresh_from_db()
    foreign.refresh_from_db()
    assert (given.payload["step"], given.payload["method"]) == ("given", "web_form")
    assert foreign.payload == {}


def odd_events(customer) -> None:
    """Rows the services never wrote but old data may hold: consents that are gone or named oddly,
    emptied payloads."""
    odd = [
        ("consent.given", "987654", "Consent requested: e-mail newsletter"),
        ("consent.given", " 12x", "Consent confirmed: e-mail newsletter"),
        ("consent.given", str(Consent.objects.order_by("pk")[0].pk), "Consent given by phone"),
        ("letter.sent", "", "Sent a letter"),
        ("sms.unsubscribed", "x", "Unsubscribed"),
    ]
    for n, (kind, source_id, title) in enumerate(odd):
        TimelineEvent.objects.create(
            customer=customer,
            department="marketing",
            kind=kind,
            title=title,
            idempotency_key=f"odd-{n}",
            occurred_at=timezone.now(),
            source_id=source_id,
        )


@postgresql_only
@pytest.mark.parametrize("emptied", [False, True], ids=["old-keys", "emptied"])
def test_sql_path_writes_exactly_what_the_python_path_writes(marketing_history, customer, emptied):
    odd_events(customer)
    make_old(marketing_history)
    if emptied:
        TimelineEvent.objects.filter(pk__in=marketing_history).update(payload={})
    before = payloads()

    migration._backfill_batched(apps)
    by_python = payloads()
    for pk, payload in before.items():
        TimelineEvent.objects.filter(pk=pk).update(payload=payload)
    migration._backfill_postgresql(apps, SimpleNamespace(connection=connection))

    assert payloads() == by_python
    assert by_python != before

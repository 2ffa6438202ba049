"""Import target marketing.touch: a provider's report file through the real import service."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from customer360.models import Customer, TimelineEvent
from customer360.sources import identity, services
from customer360.sources.models import ImportRun
from marketing import services as marketing_services
from marketing.models import Consent, Touch
from tests.marketing.factories import CampaignFactory, grant, running_campaign
from tests.sources import importing
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, errors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("import_sandbox")]
VIENNA = ZoneInfo("Europe/Vienna")

MAPPING = {
    "fields": [
        {"field": "touch_id", "column": "Event ID"},
        {"field": "campaign", "column": "Campaign"},
        {"field": "email", "column": "E-Mail"},
        {"field": "status", "column": "Event"},
        {"field": "occurred_at", "column": "Date"},
    ],
    "options": {},
}


def run_file(source, text: str):
    return importing.run_file(source, text, MAPPING, "report.csv")


REPORT = """Event ID;Campaign;E-Mail;Event;Date
e1;Spring newsletter;anna@example.com;delivered;2025-03-01 10:00
e2;spring NEWSLETTER;anna@example.com;open;2025-03-01 11:00
;Spring newsletter;anna@example.com;clicked;2025-03-01 11:05
e4;Spring newsletter;anna@example.com;unsubscribed;2025-03-02 09:00
e5;Autumn sale;anna@example.com;opened;2025-03-01 11:00
e6;Spring newsletter;anna@example.com;liked;2025-03-01 11:00
e7;Draft mailing;anna@example.com;opened;2025-03-01 11:00
e2;Spring newsletter;anna@example.com;opened;2025-03-01 11:00
e8;Spring newsletter;bert@example.com;sent;2025-03-01 09:00
"""


@pytest.fixture
def anna():
    """A known customer (found by e-mail) who subscribed to the newsletter."""
    [(customer_id, _created)] = identity.resolve([{"email": "anna@example.com"}], source_slug="web")
    customer = Customer.objects.get(pk=customer_id)
    grant(customer, occurred_at=datetime(2025, 1, 1, tzinfo=VIENNA))
    return customer


@pytest.fixture
def spring():
    CampaignFactory(name="Draft mailing")
    return running_campaign(name="Spring newsletter", channel="email", purpose="newsletter")


def test_report_file_records_touches_events_and_the_unsubscribe_then_reruns_unchanged(anna, spring):
    source = DataSourceFactory(slug="mailer", target="marketing.touch", department="marketing")
    marketing_services.touch_record(campaign=spring, customer=anna, status="delivered", external_id="e1")

    run = run_file(source, REPORT)

    assert run.status == ImportRun.Status.DONE
    assert counts(run) == (4, 0, 1, 1, 3)  # e1 came by webhook before: the same touch, unchanged
    touches = Touch.objects.filter(campaign=spring, customer=anna)
    assert sorted(touches.values_list("status", flat=True)) == [
        "clicked",
        "delivered",
        "opened",
        "unsubscribed",
    ]
    clicked = touches.get(status="clicked")
    assert clicked.external_id.startswith("h:") and clicked.occurred_at == datetime(
        2025, 3, 1, 11, 5, tzinfo=VIENNA
    )
    anna_kinds = sorted(TimelineEvent.objects.filter(customer=anna).values_list("kind", flat=True))
    assert anna_kinds == [
        "consent.given",
        "consent.withdrawn",
        "email.clicked",
        "email.delivered",
        "email.opened",
        "email.unsubscribed",
    ]
    opened = TimelineEvent.objects.get(customer=anna, kind="email.opened")
    assert (opened.title, opened.direction, opened.payload["campaign_id"]) == (
        'Opened "Spring newsletter" (e-mail)',
        "inbound",
        spring.pk,
    )
    consent = Consent.objects.get(customer=anna, channel="email", purpose="newsletter")
    assert (consent.status, consent.method, consent.withdrawn_at) == (
        "withdrawn",
        "import",
        datetime(2025, 3, 2, 9, 0, tzinfo=VIENNA),
    )
    bert = Customer.objects.get(
        email="bert@example.com"
    )  # new customer; a recorded send needs no consent here
    assert Touch.objects.get(customer=bert).status == "sent"
    assert errors(run) == {
        "6": 'Column "Campaign": "Autumn sale" not found: no campaign has this name',
        "7": 'Column "Event": "liked" is not one of sent, delivered, opened, clicked, converted, bounced, '
        "unsubscribed",
        "8": 'Column "Campaign": "Draft mailing" is a draft campaign; touches need a running or completed one',
    }
    events = TimelineEvent.objects.count()

    again = run_file(source, REPORT)

    assert counts(again) == (0, 0, 5, 1, 3)
    assert (Touch.objects.count(), TimelineEvent.objects.count()) == (5, events)


def test_an_old_unsubscribe_does_not_undo_a_later_grant(anna, spring):
    source = DataSourceFactory(slug="mailer", target="marketing.touch", department="marketing")
    report = (
        "Event ID;Campaign;E-Mail;Event;Date\nu1;Spring newsletter;anna@example.com;unsubscribed;2024-12-01\n"
    )

    run = run_file(source, report)

    assert counts(run) == (1, 0, 0, 0, 0)
    assert Consent.objects.get(customer=anna).status == "granted"
    assert not TimelineEvent.objects.filter(kind="consent.withdrawn").exists()


def test_touches_by_bulk_api_with_the_sources_token(anna, spring):
    source = DataSourceFactory(
        slug="mailer-api", kind="api", target="marketing.touch", department="marketing"
    )
    token = services.source_issue_token(source=source)
    records = [
        {
            "touch_id": f"m-{n}",
            "campaign": "Spring newsletter",
            "email": "anna@example.com",
            "status": "opened",
        }
        for n in range(3)
    ]

    def post():
        return (
            Client()
            .post(
                "/api/sources/mailer-api/records",
                json.dumps(records),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
            .json()
        )

    assert (post()["accepted"], post()["duplicate"]) == (3, 3)
    assert Touch.objects.filter(campaign=spring, status="opened").count() == 3

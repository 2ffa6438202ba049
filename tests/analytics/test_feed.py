"""The analytics reproduce the communication pattern planted by the demo seeder."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics import feed
from analytics.models import ListenedMessage
from collab.models import DepartmentRequest, Post, Space
from customer360.demo import run_seeders
from customer360.models import TimelineEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    return run_seeders(count=30, seed=7, only=["collab"], stdout=lambda *_: None)


def test_demo_seed_plants_the_pattern_and_analytics_reproduce_it(seeded):
    data = feed.compute()
    assert data.asks == {"service": {"accounting": 12}, "sales": {"service": 6}, "marketing": {"sales": 3}}
    times = data.times_by_department
    assert times["accounting"]["median_first_answer_hours"] == 1.0
    assert times["accounting"]["median_resolution_hours"] == 2.0
    assert times["service"]["median_first_answer_hours"] == 4.0
    assert times["service"]["median_resolution_hours"] == 6.0
    assert times["sales"]["median_first_answer_hours"] == 2.0
    assert (times["accounting"]["requests"], times["accounting"]["resolved"]) == (12, 12)
    # Who answers whom: accounting answered service's 12 requests.
    assert data.answers["accounting"]["service"] == 12
    # Managers take part: the one demo manager posts and answers.
    assert data.managers_taking_part == {"active": 1, "total": 1, "share": 1.0}
    manager = data.participation_by_role["Manager"]
    assert manager["posts"] == 2 and manager["comments"] == 6
    assert data.participation_by_department["accounting"] == {"posts": 0, "comments": 12, "people": 1}
    assert data.trending[0].term == "delivery"
    assert Space.objects.filter(kind="department").count() == 6
    assert Space.objects.filter(slug="deliveries").exists()


def test_demo_gruber_request_is_on_his_timeline_for_permitted_users(seeded):
    gruber = next(c for c in seeded.customers if c.persona == "gruber")
    event = TimelineEvent.objects.get(customer_id=gruber.id, kind="internal.request")
    assert "pause dunning for Franz Gruber" in event.title
    post = Post.objects.get(pk=event.payload["post_id"])
    assert post.request.status == DepartmentRequest.Status.RESOLVED
    assert post.request.first_answer_seconds <= 3600
    manager = seeded.users["manager"]
    assert TimelineEvent.objects.visible_to(manager).filter(pk=event.pk).exists()


def test_demo_seeder_is_idempotent(seeded):
    count = Post.objects.count()
    run_seeders(count=0, seed=7, only=["collab"], stdout=lambda *_: None)
    assert Post.objects.count() == count


def test_analytics_page_exposes_the_numbers(seeded):
    response = client_for(seeded.users["manager"]).get(reverse("analytics:feed"))
    assert response.context["data"].asks["service"]["accounting"] == 12
    html = response.content.decode()
    assert "plotly" in html.lower() and 'id="ask-matrix"' in html
    assert "delivery" in html


def test_trending_terms_rise_from_previous_period():
    previous = ["invoice question", "invoice copy please", "weather is nice"]
    recent = ["delivery late", "late delivery again", "Lieferung verspätet, delivery", "invoice question"]
    terms = [t.term for t in feed.trending_terms(recent, previous)]
    assert terms[0] == "delivery"
    assert "invoice" not in terms  # stayed, did not rise
    assert "again" not in feed.tokens("again und the")


def test_topics_rising_inside_and_with_customers(customer, service_user):
    from tests.collab.factories import accept_conduct, post

    accept_conduct(service_user)

    now = timezone.now()
    for i in range(3):
        post(service_user, f"Replacement parts missing again, case {i}")
        ListenedMessage.objects.create(
            source=ListenedMessage.Source.TICKET,
            source_id=i,
            customer=customer,
            occurred_at=now - timedelta(days=1),
            text="Complaint: replacement parts missing",
        )
    data = feed.compute(now=now + timedelta(minutes=1))
    assert "replacement" in data.shared_topics and "parts" in data.shared_topics

"""Campaigns: the audience respects consent, launch and touches are idempotent, unsubscribe withdraws."""

import pytest
from django.core.exceptions import ValidationError

from customer360.models import TimelineEvent
from marketing import services
from marketing.models import Campaign, Consent, Touch
from tests.factories import CustomerFactory
from tests.marketing.factories import CampaignFactory, SegmentFactory, grant, running_campaign

pytestmark = pytest.mark.django_db


def test_withdrawn_consent_removes_the_customer_from_the_audience():
    stays, leaves, never = CustomerFactory.create_batch(3)
    grant(stays)
    grant(leaves)
    campaign = CampaignFactory(audience=SegmentFactory())
    assert set(services.campaign_audience(campaign)) == {stays, leaves}
    services.consent_withdraw(customer=leaves, channel="email", purpose="newsletter", reason="letter")
    assert list(services.campaign_audience(campaign)) == [stays]
    assert never not in services.campaign_audience(campaign)


def test_launch_sends_only_to_allowed_members_once(marketing_user):
    vienna, graz, withdrawn = (
        CustomerFactory(city="Wien"),
        CustomerFactory(city="Graz"),
        CustomerFactory(city="Wien"),
    )
    for c in (vienna, graz, withdrawn):
        grant(c)
    services.consent_withdraw(customer=withdrawn, channel="email", purpose="newsletter")
    segment = SegmentFactory(rules=[{"field": "customer.city", "op": "eq", "value": "wien"}])
    campaign = services.campaign_create(
        name="Premium newsletter",
        channel="email",
        purpose="newsletter",
        audience=segment,
        actor=marketing_user,
    )
    assert services.campaign_launch(campaign=campaign, actor=marketing_user) == 1
    assert services.campaign_launch(campaign=campaign, actor=marketing_user) == 0  # retry
    assert campaign.status == Campaign.Status.RUNNING
    assert list(Touch.objects.values_list("customer_id", "status")) == [(vienna.pk, "sent")]
    sent = TimelineEvent.objects.filter(kind="email.sent")
    assert [(e.customer_id, e.title) for e in sent] == [(vienna.pk, 'Sent "Premium newsletter" (e-mail)')]
    assert sent[0].payload == {
        "campaign_id": campaign.pk,
        "campaign": "Premium newsletter",
        "purpose": "newsletter",
        "channel": "email",
    }
    # A later touch_record for the same send is the same touch, not a second event.
    services.touch_record(campaign=campaign, customer=vienna, status="sent")
    assert TimelineEvent.objects.filter(kind="email.sent").count() == 1


def test_sending_to_a_customer_who_withdrew_is_refused_with_a_clear_message():
    customer = CustomerFactory(first_name="Franz", last_name="Gruber")
    grant(customer, "phone", "offers")
    services.consent_withdraw(customer=customer, channel="phone", purpose="offers")
    campaign = running_campaign(channel="phone", purpose="offers")
    with pytest.raises(ValidationError) as exc:
        services.touch_record(campaign=campaign, customer=customer, status="sent")
    assert "Franz Gruber withdrew consent for phone offers on" in exc.value.message_dict["customer"][0]
    assert not Touch.objects.exists()


def test_unsubscribe_touch_withdraws_consent_with_one_event_each():
    customer = CustomerFactory()
    grant(customer)
    campaign = running_campaign(name="Premium newsletter")
    services.touch_record(campaign=campaign, customer=customer, status="sent")
    for _ in range(2):  # a retried webhook
        services.touch_record(campaign=campaign, customer=customer, status="unsubscribed")
    consent = Consent.objects.get(customer=customer)
    assert consent.status == "withdrawn"
    assert consent.withdrawal_reason == 'Unsubscribed from "Premium newsletter"'
    kinds = list(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))
    assert kinds.count("email.unsubscribed") == 1
    assert kinds.count("consent.withdrawn") == 1
    assert customer not in services.campaign_audience(campaign)


def test_clicks_are_titled_and_repeated_clicks_need_their_own_id():
    customer = CustomerFactory()
    grant(customer)
    campaign = running_campaign(name="Premium newsletter")
    services.touch_record(campaign=campaign, customer=customer, status="clicked", external_id="a")
    services.touch_record(campaign=campaign, customer=customer, status="clicked", external_id="a")
    services.touch_record(campaign=campaign, customer=customer, status="clicked", external_id="b")
    clicks = TimelineEvent.objects.filter(kind="email.clicked")
    assert clicks.count() == 2
    assert clicks.first().title == 'Clicked "Premium newsletter" (e-mail)'
    assert clicks.first().direction == "inbound"


def test_touches_need_a_running_campaign(customer):
    grant(customer)
    with pytest.raises(ValidationError) as exc:
        services.touch_record(campaign=CampaignFactory(), customer=customer, status="opened")
    assert "campaign" in exc.value.message_dict


def test_lifecycle_transitions_and_refusals():
    campaign = services.campaign_create(name="Spring offer", channel="email", purpose="offers")
    with pytest.raises(ValidationError):
        services.campaign_schedule(campaign=campaign)  # no start
    with pytest.raises(ValidationError):
        services.campaign_complete(campaign=campaign)  # not running
    services.campaign_launch(campaign=campaign)
    services.campaign_complete(campaign=campaign)
    services.campaign_complete(campaign=campaign)  # retry is fine
    assert Campaign.objects.get().status == "completed"
    with pytest.raises(ValidationError):
        services.campaign_launch(campaign=campaign)


def test_funnel_counts_distinct_customers_per_status():
    campaign = running_campaign()
    customers = CustomerFactory.create_batch(3)
    for c in customers:
        grant(c)
        services.touch_record(campaign=campaign, customer=c, status="sent")
    services.touch_record(campaign=campaign, customer=customers[0], status="opened")
    services.touch_record(campaign=campaign, customer=customers[0], status="opened", external_id="2")
    services.touch_record(campaign=campaign, customer=customers[1], status="opened")
    annotated = Campaign.objects.with_funnel().get()
    assert (annotated.n_sent, annotated.n_opened, annotated.n_clicked) == (3, 2, 0)

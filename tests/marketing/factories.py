"""Factories and small helpers for marketing tests."""

import factory
from django.utils import timezone

from marketing import services
from marketing.models import Campaign, Consent, Segment


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    rules = factory.LazyFunction(list)


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Promo {n}")
    channel = "email"
    purpose = "newsletter"
    status = Campaign.Status.DRAFT


def grant(customer, channel="email", purpose="newsletter", confirmed=True, **extra) -> Consent:
    """A consent given (and for e-mail confirmed) through the service."""
    return services.consent_grant(
        customer=customer,
        channel=channel,
        purpose=purpose,
        method=Consent.Method.WEB_FORM,
        source="https://example.com/form",
        wording_version="v1",
        confirmed=confirmed,
        **extra,
    )


def running_campaign(**kwargs) -> Campaign:
    return CampaignFactory(status=Campaign.Status.RUNNING, launched_at=timezone.now(), **kwargs)

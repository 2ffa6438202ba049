"""Consent: double opt-in, withdrawal, history with proof, one event per change, retries."""

import pytest
from django.core.exceptions import ValidationError

from customer360.models import TimelineEvent
from marketing import services
from marketing.models import Consent, ConsentChange
from tests.factories import CustomerFactory
from tests.marketing.factories import grant

pytestmark = pytest.mark.django_db


def _events(customer, kind):
    return list(TimelineEvent.objects.filter(customer=customer, kind=kind))


def test_email_grant_waits_for_double_opt_in(customer, marketing_user):
    consent = grant(customer, confirmed=False, actor=marketing_user)
    assert consent.status == Consent.Status.PENDING
    assert customer not in Consent.objects.allows("email", "newsletter")
    services.consent_confirm(consent=consent)
    consent.refresh_from_db()
    assert consent.status == Consent.Status.GRANTED and consent.confirmed_at is not None
    assert list(Consent.objects.allows("email", "newsletter")) == [customer]
    given = _events(customer, "consent.given")
    assert len(given) == 2  # requested, then confirmed: one event per action
    assert {e.payload["status"] for e in given} == {"pending", "granted"}
    assert all(e.payload["channel"] == "email" and e.payload["purpose"] == "newsletter" for e in given)


def test_phone_grant_is_active_at_once_and_retry_adds_nothing(customer, marketing_user):
    for _ in range(3):
        grant(customer, "phone", "offers", actor=marketing_user)
    assert list(Consent.objects.allows("phone", "offers")) == [customer]
    assert len(_events(customer, "consent.given")) == 1
    assert ConsentChange.objects.count() == 1
    event = _events(customer, "consent.given")[0]
    assert event.title == "Consent given: phone offers (Web form)"
    assert event.actor == marketing_user
    assert event.department == "marketing"


def test_confirm_twice_gives_one_event(customer):
    consent = grant(customer, confirmed=False)
    services.consent_confirm(consent=consent)
    services.consent_confirm(consent=consent)
    assert len(_events(customer, "consent.given")) == 2


def test_confirm_of_a_withdrawn_consent_is_refused(customer):
    consent = grant(customer, confirmed=False)
    services.consent_withdraw(customer=customer, channel="email", purpose="newsletter", reason="no")
    with pytest.raises(ValidationError) as exc:
        services.consent_confirm(consent=consent)
    assert "status" in exc.value.message_dict


def test_withdraw_keeps_the_proof_and_gives_exactly_one_event(customer, marketing_user):
    grant(customer, "phone", "offers")
    for _ in range(2):
        services.consent_withdraw(
            customer=customer,
            channel="phone",
            purpose="offers",
            reason="asked on the phone",
            actor=marketing_user,
        )
    consent = Consent.objects.get(customer=customer, channel="phone", purpose="offers")
    assert consent.status == "withdrawn" and consent.withdrawal_reason == "asked on the phone"
    assert customer not in Consent.objects.allows("phone", "offers")
    withdrawn = _events(customer, "consent.withdrawn")
    assert len(withdrawn) == 1
    assert withdrawn[0].payload == {"channel": "phone", "purpose": "offers", "status": "withdrawn"}
    history = list(
        consent.changes.order_by("changed_at", "id").values_list("old_status", "new_status", "source")
    )
    assert history == [
        ("", "granted", "https://example.com/form"),
        ("granted", "withdrawn", "https://example.com/form"),
    ]
    assert consent.changes.get(new_status="withdrawn").changed_by == marketing_user


def test_withdraw_without_grant_records_the_refusal(customer):
    services.consent_withdraw(customer=customer, channel="phone", purpose="offers", reason="said no")
    assert Consent.objects.get(customer=customer).status == "withdrawn"
    assert len(_events(customer, "consent.withdrawn")) == 1


def test_grant_again_after_withdrawal_is_a_new_event(customer):
    grant(customer, "sms", "surveys")
    services.consent_withdraw(customer=customer, channel="sms", purpose="surveys")
    grant(customer, "sms", "surveys")
    assert len(_events(customer, "consent.given")) == 2
    assert Consent.objects.get(customer=customer).withdrawn_at is None


def test_unknown_channel_is_refused_naming_the_field(customer):
    with pytest.raises(ValidationError) as exc:
        services.consent_grant(customer=customer, channel="fax", purpose="offers", method="web_form")
    assert "channel" in exc.value.message_dict


def test_allows_only_the_customers_with_that_consent():
    a, b, c = CustomerFactory.create_batch(3)
    grant(a)
    grant(b, confirmed=False)
    grant(c, "email", "offers")
    assert list(Consent.objects.allows("email", "newsletter")) == [a]

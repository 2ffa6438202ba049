"""Segments: rule combinations across departments, consent requirement, refusing bad rules."""

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer360.conditions import RuleError, clean
from customer360.models import Customer
from marketing import services
from marketing.models import Consent, segment_members
from tests.factories import CustomerFactory
from tests.marketing.factories import SegmentFactory, grant, running_campaign

pytestmark = pytest.mark.django_db

VIENNA_OVERDUE_NO_COMPLAINT = [
    {"field": "customer.city", "op": "eq", "value": "Wien"},
    {"field": "test.billing.overdue_days", "op": "gt", "value": "30"},
    {"field": "test.crm.open_complaint", "op": "eq", "value": False},
]


def test_vienna_overdue_and_no_open_complaint(fake_facts):
    target = CustomerFactory(city="Wien")
    complaining = CustomerFactory(city="Wien")
    barely_overdue = CustomerFactory(city="Wien")
    graz = CustomerFactory(city="Graz")
    fake_facts.overdue_days.update({target.pk: 45, complaining.pk: 60, barely_overdue.pk: 30, graz.pk: 90})
    fake_facts.open_complaint.add(complaining.pk)
    segment = SegmentFactory(rules=VIENNA_OVERDUE_NO_COMPLAINT)
    assert list(segment.members()) == [target]


def test_any_combines_with_or(fake_facts):
    graz, overdue, neither = (
        CustomerFactory(city="Graz"),
        CustomerFactory(city="Linz"),
        CustomerFactory(city="Linz"),
    )
    fake_facts.overdue_days[overdue.pk] = 10
    rules = [
        {"field": "customer.city", "op": "eq", "value": "graz"},
        {"field": "test.billing.overdue_days", "op": "gte", "value": 1},
    ]
    assert set(segment_members(rules=rules, match="any")) == {graz, overdue}
    assert neither not in segment_members(rules=rules, match="any")
    assert not segment_members(rules=rules, match="all").exists()


def test_customer_fields_and_attributes():
    a = CustomerFactory(city="Wien", postcode="1100", country="AT", attributes={"segment": "SME"})
    b = CustomerFactory(city="München", postcode="80331", country="DE", attributes={"segment": "Private"})
    b.lifecycle = Customer.Lifecycle.CHURNED
    b.save()
    assert list(segment_members(rules=[{"field": "customer.country", "op": "eq", "value": "de"}])) == [b]
    assert list(
        segment_members(rules=[{"field": "customer.postcode", "op": "contains", "value": "110"}])
    ) == [a]
    assert list(segment_members(rules=[{"field": "customer.lifecycle", "op": "ne", "value": "churned"}])) == [
        a
    ]
    assert list(
        segment_members(rules=[{"field": "customer.attribute", "op": "eq", "value": "segment=SME"}])
    ) == [a]


def test_engagement_counts_include_customers_without_any_touch():
    campaign = running_campaign()
    clicker, idle = CustomerFactory.create_batch(2)
    grant(clicker)
    services.touch_record(campaign=campaign, customer=clicker, status="clicked", external_id="1")
    services.touch_record(campaign=campaign, customer=clicker, status="clicked", external_id="2")

    def clicks(op, value):
        return set(segment_members(rules=[{"field": "marketing.clicks_30d", "op": op, "value": value}]))

    assert clicks("gte", 2) == {clicker}
    assert clicks("lt", 1) == {idle}
    assert clicks("eq", 0) == {idle}
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert clicks("eq", 0) == {clicker, idle}


def test_consent_and_unsubscribed_conditions_and_nested_segments():
    subscribed, unsubscribed = CustomerFactory.create_batch(2)
    grant(subscribed)
    grant(unsubscribed)
    campaign = running_campaign()
    services.touch_record(campaign=campaign, customer=unsubscribed, status="unsubscribed")
    consent_rule = [{"field": "marketing.consent", "op": "eq", "value": "email/newsletter"}]
    assert list(segment_members(rules=consent_rule)) == [subscribed]
    assert list(
        segment_members(rules=[{"field": "marketing.unsubscribed_recently", "op": "eq", "value": "true"}])
    ) == [unsubscribed]
    inner = SegmentFactory(rules=consent_rule)
    assert list(
        segment_members(rules=[{"field": "marketing.in_segment", "op": "eq", "value": inner.pk}])
    ) == [subscribed]


def test_required_consent_excludes_customers_without_it():
    allowed, pending, withdrawn = CustomerFactory.create_batch(3, city="Wien")
    grant(allowed)
    grant(pending, confirmed=False)
    grant(withdrawn)
    services.consent_withdraw(customer=withdrawn, channel="email", purpose="newsletter")
    segment = SegmentFactory(
        rules=[{"field": "customer.city", "op": "eq", "value": "Wien"}],
        requires_channel="email",
        requires_purpose="newsletter",
    )
    assert list(segment.members()) == [allowed]
    assert segment.members().count() == 1


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "nope.field", "op": "eq", "value": 1}, "Rule 1 (nope.field): unknown field."),
        (
            {"field": "customer.city", "op": "gt", "value": "Wien"},
            "Rule 1 (customer.city): unknown operator 'gt'",
        ),
        (
            {"field": "marketing.clicks_30d", "op": "gt", "value": "many"},
            "Rule 1 (marketing.clicks_30d): bad value",
        ),
        (
            {"field": "marketing.consent", "op": "eq", "value": "fax/offers"},
            "Rule 1 (marketing.consent): bad value",
        ),
        ({"field": "customer.attribute", "op": "eq", "value": "a__b=1"}, "customer.attribute"),
        ("not a rule", "Rule 1 (?)"),
    ],
)
def test_bad_rules_are_refused_naming_the_rule(rule, expected):
    with pytest.raises(RuleError) as exc:
        list(segment_members(rules=[rule]))
    assert expected in " ".join(exc.value.messages)


def test_every_bad_rule_is_named():
    with pytest.raises(RuleError) as exc:
        clean([{"field": "customer.city", "op": "eq", "value": "Wien"}, {"field": "x"}, {"field": "y"}])
    assert [m.split(":")[0] for m in exc.value.messages] == ["Rule 2 (x)", "Rule 3 (y)"]


def test_user_input_cannot_reach_sql_as_text():
    sneaky = "Wien'; DROP TABLE customer360_customer; --"
    CustomerFactory(city="Wien")
    assert list(segment_members(rules=[{"field": "customer.city", "op": "eq", "value": sneaky}])) == []
    assert Customer.objects.count() == 1


STATES = st.sampled_from(["none", "granted", "pending", "withdrawn"])
RULES = st.lists(
    st.one_of(
        st.builds(
            lambda city: {"field": "customer.city", "op": "eq", "value": city},
            st.sampled_from(["Wien", "Graz"]),
        ),
        st.builds(
            lambda op, value: {"field": "marketing.consent", "op": op, "value": value},
            st.sampled_from(["eq", "ne"]),
            st.sampled_from(["email/newsletter", "phone/offers"]),
        ),
        st.builds(
            lambda op, value: {"field": "customer.lifecycle", "op": op, "value": value},
            st.sampled_from(["eq", "ne"]),
            st.sampled_from(["customer", "churned"]),
        ),
    ),
    max_size=4,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.lists(st.tuples(STATES, st.sampled_from(["Wien", "Graz"])), min_size=1, max_size=6),
    rules=RULES,
    match=st.sampled_from(["all", "any"]),
)
def test_segments_never_include_a_customer_without_the_required_consent(people, rules, match):
    with transaction.atomic():
        for state, city in people:
            customer = CustomerFactory(city=city)
            if state != "none":
                Consent.objects.create(
                    customer=customer,
                    channel="email",
                    purpose="newsletter",
                    status=state,
                    confirmed_at=timezone.now() if state == "granted" else None,
                )
        members = segment_members(rules=rules, match=match, required_consent=("email", "newsletter"))
        allowed = set(Consent.objects.allows("email", "newsletter").values_list("pk", flat=True))
        assert set(members.values_list("pk", flat=True)) <= allowed
        transaction.set_rollback(True)

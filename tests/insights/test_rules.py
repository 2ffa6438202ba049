"""The rule interpreter, and the property that no recommendation ever breaks an eligibility rule."""

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insights import rules
from insights.engine import arbitrate, candidates, load_catalogue
from insights.features import CONSENT_CHANNELS, CONSENT_PURPOSES
from insights.models import Action

FRAME = pd.DataFrame(
    {
        "customer_id": [1, 2, 3],
        "dunning_level": [0, 2, 3],
        "lifecycle": pd.array(["customer", "churned", None], dtype="string"),
        "has_contract": [True, False, True],
        "last_csat": [np.nan, 2.0, 5.0],
    }
)


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"field": "dunning_level", "op": "gte", "value": "2"}, [False, True, True]),
        ({"field": "dunning_level", "op": "lt", "value": "2"}, [True, False, False]),
        ({"field": "lifecycle", "op": "in", "value": "customer, at_risk"}, [True, False, False]),
        ({"field": "lifecycle", "op": "ne", "value": "churned"}, [True, False, True]),
        ({"field": "has_contract", "op": "true"}, [True, False, True]),
        ({"field": "has_contract", "op": "eq", "value": "no"}, [False, True, False]),
        ({"field": "has_contract", "op": "ne", "value": "ja"}, [False, True, False]),
        ({"field": "dunning_level", "op": "true"}, [False, True, True]),
        ({"field": "lifecycle", "op": "false"}, [False, False, True]),
        ({"field": "last_csat", "op": "lte", "value": "2"}, [False, True, False]),
        ({"field": "unknown_fact", "op": "eq", "value": "1"}, [False, False, False]),
        ({"field": "dunning_level", "op": "gt", "value": "__import__('os')"}, [False, False, False]),
    ],
)
def test_operators(rule, expected):
    assert rules.evaluate(rule, FRAME).tolist() == expected


def test_unknown_operator_holds_nowhere_and_is_named():
    rule = {"field": "dunning_level", "op": "__class__", "value": "1"}
    assert rules.evaluate(rule, FRAME).tolist() == [False, False, False]
    assert "unknown operator '__class__'" in rules.validate(rule)[0]


def test_any_of_groups():
    group = [
        {"field": "dunning_level", "op": "gte", "value": "3", "group": 1},
        {"field": "last_csat", "op": "lte", "value": "2", "group": 1},
        {"field": "has_contract", "op": "false"},
    ]
    assert rules.all_hold(group, FRAME).tolist() == [False, True, False]
    assert rules.all_hold([], FRAME).tolist() == [True, True, True]


def test_rule_rows_become_one_condition_tree():
    rows = [
        {"field": "a", "op": "eq", "value": "1"},
        {"field": "b", "op": "eq", "value": "1", "group": 2},
        {"field": "c", "op": "eq", "value": "1", "group": 2},
    ]
    assert rules.tree(rows) == {"all": [rows[0], {"any": [rows[1], rows[2]]}]}


def test_validate_names_problems():
    assert rules.validate({"field": "dunning_level", "op": "gte", "value": "2"}) == []
    assert rules.validate({"field": "condition:customer.city", "op": "eq", "value": "Wien"}) == []
    assert rules.validate({"field": "nope", "op": "exec"}) == ["unknown field."]
    assert rules.validate({"field": "dunning_level", "op": "exec", "value": "1"}) == [
        "unknown operator 'exec' (allowed: eq, ne, gt, gte, lt, lte, true, false, in, not_in)."
    ]
    assert rules.validate({"field": "has_contract", "op": "eq", "value": "maybe"}) == [
        "bad value 'maybe', expected yes or no."
    ]


_state = st.fixed_dictionaries(
    {
        "dunning_level": st.integers(0, 4),
        "overdue_amount": st.sampled_from([0.0, 120.0, 2500.0]),
        "open_complaints": st.integers(0, 2),
        "complaints_90": st.integers(0, 2),
        "last_csat": st.sampled_from([np.nan, 1.0, 2.0, 4.0, 5.0]),
        "has_contract": st.booleans(),
        "contract_cancelled": st.booleans(),
        "days_to_renewal": st.sampled_from([np.nan, 5.0, 40.0, 200.0]),
        "days_since_last_contact": st.sampled_from([np.nan, 2.0, 30.0]),
        "lifecycle": st.sampled_from(["customer", "churned", "at_risk", "prospect"]),
        "email_clicks_30": st.integers(0, 3),
        "email_opens_30": st.integers(0, 3),
        "email_opens_90": st.integers(0, 3),
        "unsubscribes_90": st.integers(0, 1),
        "offers_in_period": st.integers(0, 3),
        "monetary_365": st.sampled_from([0.0, 5000.0]),
        "has_email": st.booleans(),
        **{f"consent_{c}_{p}": st.booleans() for c in CONSENT_CHANNELS for p in CONSENT_PURPOSES},
    }
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=st.lists(_state, min_size=1, max_size=25), dismissed=st.lists(st.integers(0, 24), max_size=5))
def test_no_recommendation_breaks_a_rule(states, dismissed):
    catalogue = load_catalogue()
    policy = catalogue.policy
    frame = pd.DataFrame(states)
    frame.insert(0, "customer_id", np.arange(1, len(frame) + 1))
    frame["lifecycle"] = frame["lifecycle"].astype("string")
    upsell = Action.objects.get(key="upsell")
    blocked = pd.DataFrame(
        {"customer_id": [i + 1 for i in dismissed if i < len(frame)], "action_id": upsell.pk}
    ).drop_duplicates()
    chosen = arbitrate(candidates(frame, catalogue, blocked, timezone.now()), policy.top_n)
    actions = {e.action.pk: e.action for e in catalogue.entries}
    by_id = frame.set_index("customer_id")
    assert chosen.groupby("customer_id").size().max() <= policy.top_n if not chosen.empty else True
    assert not chosen.duplicated(["customer_id", "action_id"]).any()
    for rec in chosen.itertuples():
        action, state = actions[rec.action_id], by_id.loc[rec.customer_id]
        if action.is_offer:
            assert state[f"consent_{action.channel}_{action.purpose}"], "offer without consent"
            assert state["open_complaints"] == 0 and state["dunning_level"] < 2
            assert state["offers_in_period"] < policy.max_offers, "contact cap broken"
        if action.key == "upsell":
            assert state["open_complaints"] == 0 and state["dunning_level"] < 2
            assert (rec.customer_id, rec.action_id) not in set(blocked.itertuples(index=False)), (
                "cool-down broken"
            )
        if action.key == "payment_plan_offer":
            assert state["dunning_level"] >= 1


@pytest.mark.django_db
def test_segments_and_nba_rules_agree_on_true():
    """Both read rules through the core compiler: "ja" is yes in both, "maybe" is refused in both
    (a segment names it, an NBA rule holds nowhere, so an eligibility rule blocks)."""
    from django.db.models import Q

    from customer360.conditions import RuleError
    from customer360.models import Customer
    from customer360.registry import Condition
    from customer360.registry import conditions as registry
    from marketing.models import segment_members
    from tests.factories import CustomerFactory

    def _vip(op, value) -> Q:
        vips = Q(pk__in=Customer.objects.filter(attributes__vip=True).values("pk"))
        return vips if value else ~vips

    registry.register(
        Condition(
            "test.vip",
            "VIP",
            "sales",
            "bool",
            _vip,
        )
    )
    try:
        vip, other = CustomerFactory(attributes={"vip": True}), CustomerFactory(attributes={})
        frame = pd.DataFrame({"customer_id": [vip.pk, other.pk]})
        for op, value, expected in [("eq", "ja", [True, False]), ("ne", "ja", [False, True])]:
            rule = {"field": "test.vip", "op": op, "value": value}
            members = {c.pk for c in segment_members(rules=[rule])}
            assert [pk in members for pk in (vip.pk, other.pk)] == expected
            nba = {**rule, "field": "condition:test.vip"}
            assert rules.evaluate(nba, frame).tolist() == expected
        with pytest.raises(RuleError):
            segment_members(rules=[{"field": "test.vip", "op": "eq", "value": "maybe"}])
        maybe = {"field": "condition:test.vip", "op": "eq", "value": "maybe"}
        assert rules.evaluate(maybe, frame).tolist() == [False, False]
        assert rules.validate(maybe) == ["bad value 'maybe', expected yes or no."]
    finally:
        registry.items.pop("test.vip")

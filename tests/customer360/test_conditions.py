"""The core's condition compiler: rule trees over registered conditions, one meaning of "true"."""

import pytest
from django.db.models import Q

from customer360 import conditions
from customer360.conditions import RuleError
from customer360.models import Customer
from customer360.registry import Condition
from customer360.registry import conditions as registry
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _vip(op, value) -> Q:
    vips = Q(pk__in=Customer.objects.filter(attributes__vip=True).values("pk"))
    return vips if value else ~vips


@pytest.fixture
def vip_flag():
    """A yes/no condition as an app would register it (here: the attribute vip)."""
    registry.register(
        Condition(
            "test.vip",
            "VIP",
            "sales",
            "bool",
            _vip,
        )
    )
    yield
    registry.items.pop("test.vip")


def _ids(tree) -> set[int]:
    return set(conditions.matching(tree).values_list("pk", flat=True))


@pytest.mark.parametrize("word", [True, "true", "1", "yes", "Ja", "j", "on", " Y "])
def test_words_for_yes(word):
    assert conditions.truth(word) is True


@pytest.mark.parametrize("word", [False, None, "", "false", "0", "no", "nein", "N", "off"])
def test_words_for_no(word):
    assert conditions.truth(word) is False


@pytest.mark.parametrize("word", ["maybe", "2", "wahr", "yes please"])
def test_any_other_word_is_refused_not_read_as_no(word):
    with pytest.raises(ValueError):
        conditions.truth(word)


def test_all_any_not_and_lists_compile_to_one_query():
    wien = CustomerFactory(city="Wien", country="AT", lifecycle="customer")
    graz = CustomerFactory(city="Graz", country="AT", lifecycle="churned")
    berlin = CustomerFactory(city="Berlin", country="DE", lifecycle="prospect")
    austria = {"field": "customer.country", "op": "eq", "value": "at"}
    churned = {"field": "customer.lifecycle", "op": "eq", "value": "churned"}
    assert _ids({"all": [austria, {"not": churned}]}) == {wien.pk}
    assert _ids({"any": [churned, {"field": "customer.city", "op": "eq", "value": "berlin"}]}) == {
        graz.pk,
        berlin.pk,
    }
    assert _ids({"field": "customer.lifecycle", "op": "in", "value": "customer, prospect"}) == {
        wien.pk,
        berlin.pk,
    }
    assert _ids({"field": "customer.lifecycle", "op": "not_in", "value": ["customer", "prospect"]}) == {
        graz.pk
    }
    assert _ids({"all": []}) == {wien.pk, graz.pk, berlin.pk}
    assert _ids({"any": []}) == set()
    assert _ids(conditions.from_rules([], "any")) == {wien.pk, graz.pk, berlin.pk}


def test_yes_no_conditions_read_every_spelling_the_same(vip_flag):
    vip = CustomerFactory(attributes={"vip": True})
    other = CustomerFactory(attributes={})
    for yes in ("ja", "yes", True, "1"):
        assert _ids({"field": "test.vip", "op": "eq", "value": yes}) == {vip.pk}
    assert _ids({"field": "test.vip", "op": "true"}) == {vip.pk}
    assert _ids({"field": "test.vip", "op": "false"}) == {other.pk}
    assert _ids({"field": "test.vip", "op": "ne", "value": "nein"}) == {vip.pk}
    with pytest.raises(RuleError) as exc:
        conditions.to_q({"field": "test.vip", "op": "eq", "value": "maybe"})
    assert exc.value.messages == ["Rule 1 (test.vip): bad value 'maybe', expected yes or no."]


def test_every_bad_comparison_in_a_tree_is_named_in_order():
    tree = {
        "all": [
            {"field": "customer.city", "op": "eq", "value": "Wien"},
            {"any": [{"field": "nope"}, {"not": {"field": "customer.country", "op": "gt", "value": "AT"}}]},
        ]
    }
    with pytest.raises(RuleError) as exc:
        conditions.clean(tree)
    assert [m.split(":")[0] for m in exc.value.messages] == [
        "Rule 2 (nope)",
        "Rule 3 (customer.country)",
    ]


def test_size_and_depth_are_bounded():
    leaf = {"field": "customer.city", "op": "eq", "value": "Wien"}
    with pytest.raises(RuleError):
        conditions.clean({"all": [leaf] * (conditions.MAX_LEAVES + 1)})
    deep = leaf
    for _ in range(conditions.MAX_DEPTH + 1):
        deep = {"not": deep}
    with pytest.raises(RuleError):
        conditions.clean(deep)
    for not_a_tree in ("x", 3, None, {"all": "x"}):
        with pytest.raises(RuleError):
            conditions.clean(not_a_tree)


def test_values_are_typed_never_sql_text():
    CustomerFactory(city="Wien")
    sneaky = {"field": "customer.city", "op": "eq", "value": "Wien' OR '1'='1"}
    assert _ids(sneaky) == set()
    with pytest.raises(RuleError) as exc:
        conditions.to_q({"field": "customer.attribute", "op": "eq", "value": "a__b=1"})
    assert "customer.attribute" in exc.value.messages[0]

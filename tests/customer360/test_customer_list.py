"""Customer list: filters, sorting, keyset pagination, constant query count."""

import re

import pytest
from django.db.models import Q

from customer360.customer_list import PAGE_SIZE
from customer360.models import Customer
from customer360.registry import Condition, ListFilter, conditions
from tests.conftest import client_for
from tests.factories import CustomerFactory


def _ids_on_all_pages(client, query=""):
    seen, url = [], f"/customers/?{query}"
    for _ in range(50):
        html = client.get(url, headers={"HX-Request": "true"} if "cursor=" in url else {}).content.decode()
        seen += [int(pk) for pk in re.findall(r'href="/customers/(\d+)/"', html)]
        found = re.search(r'hx-get="\?([^"]*cursor=[^"]+)"', html)
        if not found:
            return seen
        url = "/customers/?" + found.group(1).replace("&amp;", "&")
    raise AssertionError("pagination did not end")


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["name", "-created", "number"])
def test_keyset_pagination_returns_every_customer_once(rep, sort):
    # Many equal last names: the keyset must break ties by id.
    customers = [
        CustomerFactory(owner=rep, last_name=["Huber", "Gruber", "Bauer"][i % 3])
        for i in range(PAGE_SIZE * 2 + 7)
    ]
    seen = _ids_on_all_pages(client_for(rep), f"sort={sort}")
    assert sorted(seen) == sorted(c.pk for c in customers)
    assert len(seen) == len(set(seen))


@pytest.mark.django_db
def test_filters_by_lifecycle_country_and_owner(rep):
    mine = CustomerFactory(owner=rep, country="DE", lifecycle="churned")
    CustomerFactory(owner=None, country="AT", lifecycle="customer")
    client = client_for(rep)
    assert _ids_on_all_pages(client, "lifecycle=churned") == [mine.pk]
    assert _ids_on_all_pages(client, "country=de") == [mine.pk]
    assert _ids_on_all_pages(client, "owner=me") == [mine.pk]


@pytest.mark.django_db
def test_condition_filters_come_from_the_registry(rep):
    flagged = CustomerFactory(owner=rep, attributes={"level": 3})
    CustomerFactory(owner=rep, attributes={"level": 1})
    original = conditions.items.get("billing.dunning_level")
    conditions.register(
        Condition(
            key="billing.dunning_level",
            label="Dunning level",
            department="accounting",
            value_type="int",
            build=lambda op, value: Q(attributes__level__gte=value),
            operators=("gte",),
            list_filter=ListFilter("dunning_level", "gte", "Dunning level at least"),
        )
    )
    try:
        client = client_for(rep)
        assert 'name="dunning_level"' in client.get("/customers/").content.decode()
        assert _ids_on_all_pages(client, "dunning_level=2") == [flagged.pk]
    finally:
        if original:
            conditions.register(original)
        else:
            conditions.items.pop("billing.dunning_level")


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_rows(rep, django_assert_max_num_queries):
    client = client_for(rep)
    for _ in range(3):
        CustomerFactory(owner=rep)
    with django_assert_max_num_queries(8) as few:
        client.get("/customers/")
    for _ in range(40):
        CustomerFactory(owner=rep)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/customers/")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cap, some", [(1000, 40_000), (5, 40_000), (5, 5)], ids=["their-ids", "bitmap-scans", "a-walk"]
)
@pytest.mark.parametrize("sort", ["name", "-created", "number"])
def test_a_search_lists_every_visible_match_once_in_order_either_way(rep, rep2, monkeypatch, cap, some, sort):
    # A rare name is narrowed to its matches' ids first (PostgreSQL); one with more matches than
    # the cap is read by bitmap scans, one with many by a walk of the order. The pages are the same
    # either way, and others' customers stay hidden.
    from customer360 import search

    monkeypatch.setattr(search, "FEW_MATCHES", cap)
    monkeypatch.setattr(search, "SOME_MATCHES", some)
    mine = [
        CustomerFactory(owner=rep, last_name="Mahmoud", first_name=f"Amal {i:02d}")
        for i in range(PAGE_SIZE + 3)
    ]
    CustomerFactory(owner=rep2, last_name="Mahmoud", first_name="Hidden")
    CustomerFactory(owner=rep, last_name="Maier", first_name="Other")
    seen = _ids_on_all_pages(client_for(rep), f"q=mahm&sort={sort}")
    assert sorted(seen) == sorted(c.pk for c in mine) and len(seen) == len(set(seen))
    if sort == "name":
        firsts = dict(Customer.objects.filter(pk__in=seen).values_list("pk", "first_name"))
        names = [firsts[pk] for pk in seen]
        assert names == sorted(names)


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["name", "-created", "number"])
def test_a_search_whose_best_matches_are_others_still_lists_the_users_own(rep, rep2, monkeypatch, sort):
    # The best ranked matches are checked against what the user may see; when fewer than a page of
    # them is visible (here: all the first ones are rep2's), the visible matches are read directly.
    from customer360 import customer_list

    monkeypatch.setattr(customer_list, "RANKED_FIRST", 6)
    monkeypatch.setattr(customer_list, "PAGE_SIZE", 2)
    others = [CustomerFactory(owner=rep2, last_name="Mahmoud", first_name=f"Aaron {i}") for i in range(8)]
    mine = [CustomerFactory(owner=rep, last_name="Mahmoud", first_name=f"Zoe {i}") for i in range(5)]
    if sort == "-created":  # rep2's customers the newest
        for n, customer in enumerate(others):
            Customer.objects.filter(pk=customer.pk).update(
                created_at=customer.created_at.replace(year=2030, day=1 + n)
            )
    elif sort == "number":
        for n, customer in enumerate(others):
            Customer.objects.filter(pk=customer.pk).update(customer_number=f"A-{n:03d}")
    seen = _ids_on_all_pages(client_for(rep), f"q=mahmoud&sort={sort}")
    assert sorted(seen) == sorted(c.pk for c in mine) and len(seen) == len(set(seen))
    # rep2 sees the best matches: his own, read from the ranked ones.
    first = others[::-1] if sort == "-created" else others
    assert _ids_on_all_pages(client_for(rep2), f"q=mahmoud&sort={sort}")[:2] == [c.pk for c in first[:2]]


@pytest.mark.django_db
def test_a_search_is_read_by_the_search_indexes_up_to_some_thousand_matches(rep, monkeypatch):
    # PostgreSQL: up to FEW_MATCHES matches become ids; up to about SOME_MATCHES the search is read
    # through its indexes; beyond, PostgreSQL plans it. The estimate comes from the share of the
    # table the first matches took to find.
    from django.db import connection

    from customer360 import search

    if connection.vendor != "postgresql":
        pytest.skip("the search indexes and the table's pages are PostgreSQL's")
    for i in range(300):
        CustomerFactory(owner=rep, last_name="Mahmoud" if i % 3 == 0 else "Berger", first_name=f"N {i}")
    matches = search.filter_customers(Customer.objects.all(), "mahm")
    narrowed, scans = search.narrow(matches, "mahm", cap=200)[:2]
    assert scans == "bitmap" and set(narrowed.values_list("pk", flat=True)) == set(
        matches.values_list("pk", flat=True)
    )
    assert narrowed.count() == 100 and "IN" in str(narrowed.query)
    assert search.narrow(matches, "mahm", cap=10)[:2] == (matches, "bitmap")  # about 100: some
    # The estimate is at least what was found (11 here, in whatever share of the table).
    monkeypatch.setattr(search, "SOME_MATCHES", 10)
    assert search.narrow(matches, "mahm", cap=10)[:2] == (matches, "walk")  # more than "some"
    assert search.narrow(matches, "ma", cap=10)[:2] == (matches, None)  # two letters: a word's start


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["name", "-created", "number"])
def test_a_score_filter_lists_the_same_customers_whether_few_or_many_pass(rep, rep2, monkeypatch, sort):
    # Few customers pass "churn risk at least 80 %": their ids are read from the scores first and
    # checked as one array while the list walks its order. Many: each walked customer's score is
    # probed. Both list exactly the visible customers at or above the threshold, each once, in order.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customer360 import customer_list, scores
    from customer360.models import Score

    mine = [CustomerFactory(owner=rep, last_name=["Huber", "Gruber"][i % 2]) for i in range(PAGE_SIZE + 20)]
    others = CustomerFactory.create_batch(5, owner=rep2)  # another team's: not the rep's to see
    values = {
        c.pk: (0.8 if i % 3 == 0 else 0.95 if i % 3 == 1 else 0.79) for i, c in enumerate(mine + others)
    }
    Score.objects.bulk_create(
        Score(customer_id=pk, kind=scores.CHURN_RISK, value=v, band=scores.band_of(scores.CHURN_RISK, v))
        for pk, v in values.items()
    )
    expected = sorted(c.pk for c in mine if values[c.pk] >= 0.8)
    query = f"sort={sort}&churn_risk_min=80"
    as_array = _ids_on_all_pages(client_for(rep), query)
    assert sorted(as_array) == expected and len(as_array) == len(set(as_array))
    # A decimal comma, as typed in German: the same threshold.
    assert _ids_on_all_pages(client_for(rep), f"sort={sort}&churn_risk_min=80,0") == as_array
    with CaptureQueriesContext(connection) as captured:
        client_for(rep).get(f"/customers/?{query}")
    page_sql = [q["sql"] for q in captured if "customer360_customer" in q["sql"] and "LIMIT 51" in q["sql"]]
    assert page_sql and all("customer360_score" not in sql for sql in page_sql)  # no probe per row

    monkeypatch.setattr(customer_list, "FEW", len(expected) - 1)  # now "many": probed per customer
    assert _ids_on_all_pages(client_for(rep), query) == as_array
    with CaptureQueriesContext(connection) as captured:
        client_for(rep).get(f"/customers/?{query}")
    assert any("customer360_score" in q["sql"] and "LIMIT 51" in q["sql"] for q in captured)
    # A number that is no percentage is ignored, as before: the whole list.
    assert len(_ids_on_all_pages(client_for(rep), f"sort={sort}&churn_risk_min=very")) == len(mine)
    # A threshold no one reaches: an empty array of ids, and an empty list.
    monkeypatch.setattr(customer_list, "FEW", 50_000)
    assert _ids_on_all_pages(client_for(rep), f"sort={sort}&churn_risk_min=99") == []


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["name", "-created", "number"])
def test_a_search_ranks_its_best_matches_within_a_bound_read_off_a_sample(rep, monkeypatch, sort):
    # Many matches, read by bitmap scans: the sample of the first matches bounds the list's first
    # order field, and the best matches within the bound are the best of all; too few within it,
    # and every match is ranked.
    from django.db import connection

    from customer360 import customer_list, search

    if connection.vendor != "postgresql":
        pytest.skip("the search's bitmap scans are PostgreSQL's")
    letters = "bdfhkmprtw"
    customers = [
        Customer(
            customer_number=f"S-{(i * 7919) % 1000:04d}",
            owner=rep,
            last_name=f"Mahmoud{letters[(i * 3) % 10]}{letters[(i * 7) % 10]}" if i % 4 else f"Berger {i}",
            first_name=f"N {i}",
        )
        for i in range(400)
    ]
    for customer in customers:
        customer.search_key = customer.build_search_key()
    Customer.objects.bulk_create(customers)
    monkeypatch.setattr(search, "FEW_MATCHES", 10)
    monkeypatch.setattr(customer_list, "PAGE_SIZE", 3)
    monkeypatch.setattr(customer_list, "RANKED_FIRST", 8)
    monkeypatch.setattr(customer_list, "SAFETY", 0.3)  # a small table: its estimate is coarse
    params = {"q": "mahm", "sort": sort}
    every = customer_list.ordered(customer_list.filtered_customers(rep, params)[0], sort)[0]
    found = search.narrow(every, "mahm")
    assert found.scans == "bitmap" and len(found.sample) == 11
    bound = customer_list._first_share(found, sort, customer_list.ordered(Customer.objects.all(), sort)[1])
    assert bound is not None and 8 <= every.filter(bound).count() < every.count() == 300
    best = list(every.values_list("pk", flat=True)[:4])
    assert customer_list._best_visible_matches(rep, params, sort, None) == best
    monkeypatch.setattr(customer_list, "SAFETY", 10**6)  # no bound: the same page
    assert customer_list._first_share(found, sort, ()) is None
    assert customer_list._best_visible_matches(rep, params, sort, None) == best
    # A range of the order that costs more to read than the matches it leaves out: no bound.
    monkeypatch.setattr(customer_list, "SAFETY", 0.3)
    monkeypatch.setattr(customer_list, "MATCH_COST", 0)
    assert (
        customer_list._first_share(found, sort, customer_list.ordered(Customer.objects.all(), sort)[1])
        is None
    )
    assert customer_list._best_visible_matches(rep, params, sort, None) == best
    # A bound holding fewer matches than are ranked: every match is ranked.
    monkeypatch.setattr(customer_list, "_first_share", lambda *args: Q(pk=best[-1]))
    assert customer_list._best_visible_matches(rep, params, sort, None) == best

"""One customer across every source: declared id relations, shared tax ids / e-mails / phones, the
duplicate queue for what was not declared, and thresholds learned from the queue's decisions."""

import random

import pytest

from customer360.models import Customer, CustomerIdentity, TimelineEvent
from customer360.sources import identity, services
from customer360.sources.duplicates import duplicates_find, duplicates_find_new, thresholds
from customer360.sources.models import DuplicateCandidate
from tests.conftest import client_for
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import mapping, run_file

FIRST = ["Anna", "Josef", "Maria", "Karl", "Eva", "Franz", "Lena", "Paul", "Sophie", "Lukas", "Emma", "Felix"]
LAST = ["Huber", "Gruber", "Wagner", "Bauer", "Pichler", "Moser", "Steiner", "Hofer", "Berger", "Eder"]
OTHER_FIRST = ["Xaver", "Quirin", "Yvonne", "Zita", "Ottokar", "Ulrike"]
OTHER_LAST = ["Zyprian", "Quast", "Yilmaz", "Oberdorfer", "Uxkull", "Vukovic"]


def _world(size: int, *, collisions: int = 0, seed: int = 21):
    """A shop file of ``size`` customers (number, name, e-mail), an ERP file with 60 % of them under
    the same number (name, VAT id, no e-mail) plus ERP-only customers and ``collisions`` ERP
    customers whose number a different shop customer has, and a newsletter file of e-mails only."""
    rng = random.Random(seed)
    people = [
        {
            "no": str(100000 + i),
            "first": rng.choice(FIRST),
            "last": f"{rng.choice(LAST)}{i % 97}",
            "email": f"person{i}@example.at",
            "vat": f"ATU{10000000 + i}",
        }
        for i in range(size)
    ]
    shop = ["ShopNo;First;Last;Email"] + [f"{p['no']};{p['first']};{p['last']};{p['email']}" for p in people]
    overlap = rng.sample(range(size), int(size * 0.6))
    erp = ["Kundennummer;Vorname;Nachname;UID"]
    for i in overlap:
        p = people[i]
        erp.append(
            f"{p['no']};{p['first']};{p['last']};{p['vat'][:3]} {p['vat'][3:]}"
        )  # spaced like on paper
    for j in range(size // 5):  # only in the ERP: numbers the shop never used
        erp.append(f"{900000 + j};{rng.choice(FIRST)};Nur{j};ATU{50000000 + j}")
    strangers = [i for i in range(size) if i not in set(overlap)][:collisions]
    for k, i in enumerate(strangers):  # same number as a shop customer, another person
        erp.append(
            f"{people[i]['no']};{rng.choice(OTHER_FIRST)};{rng.choice(OTHER_LAST)}{k};ATU{70000000 + k}"
        )
    newsletter = ["Mail;Kind"]
    for i in rng.sample(range(size), size // 3):
        newsletter.append(f"  {people[i]['email'].upper()} ;email.clicked")
    for j in range(size // 20):
        newsletter.append(f"new{j}@example.at;email.clicked")
    overlap_numbers = {people[i]["no"] for i in overlap}
    return "\n".join(shop) + "\n", "\n".join(erp) + "\n", "\n".join(newsletter) + "\n", overlap_numbers


SHOP_MAPPING = mapping(external_id="ShopNo", first_name="First", last_name="Last", email="Email")
ERP_MAPPING = mapping(external_id="Kundennummer", first_name="Vorname", last_name="Nachname", tax_id="UID")
NEWSLETTER_MAPPING = mapping(email="Mail", kind="Kind")


@pytest.fixture
def sources(db):
    identity.id_namespaces(fresh=True)
    shop = DataSourceFactory(slug="shop", name="Web shop")
    erp = DataSourceFactory(slug="erp", name="ERP")
    newsletter = DataSourceFactory(
        slug="newsletter", name="Newsletter", target="events", department="marketing"
    )
    yield shop, erp, newsletter
    identity.id_namespaces(fresh=True)


def _customer_of_number(number: str) -> int:
    return CustomerIdentity.objects.get(kind="external_id", source="shop", value=number).customer_id


@pytest.mark.django_db
def test_declared_relation_leaves_no_duplicate_customer(sources):
    shop, erp, newsletter = sources
    services.source_identity_set(source=erp, shares_ids_with=shop, id_columns=[])
    shop_file, erp_file, newsletter_file, overlap = _world(2000)
    assert run_file(shop, shop_file, SHOP_MAPPING).created == 2000
    erp_run = run_file(erp, erp_file, ERP_MAPPING)
    assert (erp_run.created, erp_run.unchanged, erp_run.failed) == (400, 1200, 0)  # the VAT id attached
    letter_run = run_file(newsletter, newsletter_file, NEWSLETTER_MAPPING)
    assert letter_run.failed == 0 and letter_run.created == 666 + 100
    # shop 2,000 + ERP-only 400 + newsletter-only 100: nobody twice.
    assert Customer.objects.count() == 2500
    some = sorted(overlap)[0]
    customer_id = _customer_of_number(some)
    assert CustomerIdentity.objects.filter(customer_id=customer_id, kind="tax_id").exists()
    assert not CustomerIdentity.objects.filter(kind="external_id", source="erp").exists()
    # Events of the e-mail-only source sit on the shop's customers (upper case, spaces and all).
    clicked = TimelineEvent.objects.filter(kind="email.clicked")
    assert clicked.count() == 766
    assert clicked.filter(customer__identities__source="shop").distinct().count() == 666
    assert duplicates_find() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("size", [2000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_without_the_relation_the_queue_proposes_every_overlapping_pair(sources, size):
    """Generated 10,000 customers (2,000 without SLOW=1): recall 100 %, precision >= 95 % (some
    ERP numbers are another person's shop number, with another name)."""
    shop, erp, _newsletter = sources
    collisions = size * 3 // 100
    shop_file, erp_file, _letters, overlap = _world(size, collisions=collisions)
    run_file(shop, shop_file, SHOP_MAPPING)
    run_file(erp, erp_file, ERP_MAPPING)
    # The overlap is duplicated: shop + overlap (60 %) + ERP-only (20 %) + collisions.
    assert Customer.objects.count() == size + size * 6 // 10 + size // 5 + collisions
    duplicates_find()
    erp_ids = dict(
        CustomerIdentity.objects.filter(kind="external_id", source="erp").values_list("value", "customer_id")
    )
    shop_ids = dict(
        CustomerIdentity.objects.filter(kind="external_id", source="shop").values_list("value", "customer_id")
    )
    truth = {tuple(sorted((shop_ids[n], erp_ids[n]))) for n in overlap}
    proposed = set(DuplicateCandidate.objects.values_list("customer_a_id", "customer_b_id"))
    recall = len(truth & proposed) / len(truth)
    precision = len(truth & proposed) / len(proposed)
    print(f"size {size}: recall {recall:.4f}, precision {precision:.4f}, {len(proposed)} pairs proposed")
    assert recall == 1.0
    assert precision >= 0.95, precision
    assert set(DuplicateCandidate.objects.values_list("basis", flat=True)) == {"external_id"}


@pytest.mark.django_db
def test_declaring_after_the_imports_moves_the_ids_and_queues_the_clashes(sources):
    shop, erp, _newsletter = sources
    shop_file, erp_file, _letters, overlap = _world(200)
    run_file(shop, shop_file, SHOP_MAPPING)
    run_file(erp, erp_file, ERP_MAPPING)
    services.source_identity_set(source=erp, shares_ids_with=shop, id_columns=[])
    result = identity.identities_rekey()
    assert result == {"moved": 40, "proposed": 120}  # ERP-only ids move, the overlap is queued
    assert not CustomerIdentity.objects.filter(kind="external_id", source="erp").exists()
    assert DuplicateCandidate.objects.filter(score=100, basis="external_id").count() == 120
    # The next ERP file finds the shop's customers: nothing new.
    again = run_file(erp, erp_file, ERP_MAPPING)
    assert again.created == 0


@pytest.mark.django_db
def test_a_column_holding_another_sources_id_attaches_to_its_customer(sources):
    shop, _erp, _newsletter = sources
    crm = DataSourceFactory(slug="crm", name="CRM", target="events", department="sales")
    run_file(shop, "ShopNo;Last\n4711;Huber\n4712;Gruber\n", mapping(external_id="ShopNo", last_name="Last"))
    services.source_identity_set(source=crm, shares_ids_with=None, id_columns=[("Shop-Kunde", "shop")])
    crm.refresh_from_db()
    assert services.source_id_columns(crm) == [("Shop-Kunde", "shop")]
    entries = crm.mapping["fields"] + mapping(kind="Art", event_id="Nr")["fields"]
    run = run_file(
        crm,
        "Nr;Shop-Kunde;Art\nA1;4711;call.logged\nA2;4712;call.logged\n",
        {"fields": entries, "options": {}},
    )
    assert (run.created, run.failed) == (2, 0)
    assert Customer.objects.count() == 2
    huber = _customer_of_number("4711")
    assert TimelineEvent.objects.filter(customer_id=huber, kind="call.logged").count() == 1


@pytest.mark.django_db
def test_shared_tax_id_or_email_is_proposed_without_names():
    a = CustomerFactory(first_name="", last_name="", company="")
    b = CustomerFactory(first_name="", last_name="", company="")
    c = CustomerFactory(first_name="", last_name="", company="", email="same@example.at")
    d = CustomerFactory(first_name="", last_name="", company="", email="Same@Example.at ")
    CustomerIdentity.objects.create(customer=a, kind="tax_id", value="ATU12345678")
    CustomerIdentity.objects.create(customer=b, kind="external_id", source="x", value="ATU12345678")
    rows = identity.resolve([{"tax_id": "atu 123 456-78"}], source_slug="erp")
    assert rows == [(a.pk, False)]  # the spelling does not matter
    assert duplicates_find() == 1
    pair = DuplicateCandidate.objects.get()
    assert {pair.customer_a_id, pair.customer_b_id} == {c.pk, d.pk} and pair.basis == "email"
    assert pair.score >= 95 and "same e-mail" in pair.reason_display


@pytest.mark.django_db
def test_same_number_with_a_different_name_is_not_proposed(sources):
    shop, erp, _newsletter = sources
    run_file(shop, "ShopNo;First;Last\n1;Anna;Huber\n2;Karl;Bauer\n", SHOP_MAPPING)
    run_file(erp, "Kundennummer;Vorname;Nachname\n1;Anna;Huber\n2;Quirin;Zyprian\n", ERP_MAPPING)
    assert duplicates_find() == 1
    assert DuplicateCandidate.objects.get().score >= 95


@pytest.mark.django_db
def test_after_an_import_only_new_identifiers_are_compared(sources, django_assert_max_num_queries):
    from django.core.cache import cache

    shop, erp, _newsletter = sources
    cache.delete("c360:duplicates:watermark")
    run_file(shop, "ShopNo;Last\n1;Huber\n2;Bauer\n", mapping(external_id="ShopNo", last_name="Last"))
    for index in range(30):
        CustomerFactory(last_name=f"Zeller{index}", first_name="Eva")  # "Eva Zeller3" ~ "Eva Zeller4"
    first = duplicates_find_new()  # first scan: everyone, and the watermark is set
    assert first > 0 and DuplicateCandidate.objects.filter(basis="name").count() == first
    DuplicateCandidate.objects.all().delete()  # a full scan would propose them all again
    run_file(
        erp, "Kundennummer;Nachname\n2;Bauer\n", mapping(external_id="Kundennummer", last_name="Nachname")
    )
    with django_assert_max_num_queries(15):  # a fixed number, whatever the customer count
        assert duplicates_find_new() == 1  # only the ERP's new customer was compared
    assert DuplicateCandidate.objects.get().basis == "external_id"
    assert duplicates_find_new() == 0
    cache.delete("c360:duplicates:watermark")


def _decide(pairs: int, *, merged: int, basis: str, score: float) -> None:
    for index in range(pairs):
        a, b = CustomerFactory(), CustomerFactory()
        DuplicateCandidate.objects.create(
            customer_a_id=min(a.pk, b.pk),
            customer_b_id=max(a.pk, b.pk),
            score=score + index,
            basis=basis,
            status="merged" if index < merged else "dismissed",
        )


@pytest.mark.django_db
def test_thresholds_learn_from_the_queue_and_the_page_shows_them(admin_user):
    assert thresholds()["name"].value == 88 and not thresholds()["name"].learned
    _decide(6, merged=6, basis="external_id", score=85)  # every id pair was right: the bar drops
    _decide(6, merged=0, basis="name", score=88)  # scores 88..93 all rejected: the bar rises above
    learned = thresholds()
    assert learned["external_id"].value == 75 and learned["external_id"].merged == 6
    assert learned["name"].value == 93.5 and learned["name"].dismissed == 6
    assert learned["email"].value == 80 and not learned["email"].learned
    page = client_for(admin_user).get("/sources/duplicates/").content.decode()
    assert "93.5" in page and "75.0" in page and 'data-basis="name"' in page


@pytest.mark.django_db
def test_the_source_page_declares_the_relations(sources, admin_user, manager):
    shop, erp, _newsletter = sources
    url = f"/sources/{erp.slug}/identity/"
    form = {"shares_ids_with": shop.pk, "column_0": "Shop-Kunde", "source_0": "shop"}
    assert client_for(manager).post(url, form).status_code == 403
    erp.refresh_from_db()
    assert erp.shares_ids_with is None
    admin = client_for(admin_user)
    assert admin.post(url, form).status_code == 302
    erp.refresh_from_db()
    assert erp.shares_ids_with == shop and services.source_id_columns(erp) == [("Shop-Kunde", "shop")]
    assert identity.namespace_of("erp") == "shop"
    page = admin.get(f"/sources/{erp.slug}/").content.decode()
    assert "the same as in Web shop" in page and "Shop-Kunde" in page
    # A circle is refused, nothing changes.
    assert admin.post(f"/sources/{shop.slug}/identity/", {"shares_ids_with": erp.pk}).status_code == 302
    shop.refresh_from_db()
    assert shop.shares_ids_with is None
    # Garbage answers with a message, never a 500.
    assert admin.post(url, {"shares_ids_with": "x", "source_0": "nope"}).status_code == 302

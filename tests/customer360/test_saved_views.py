"""Saved and shared views of the customer list, columns, the segment picker by name and the
locale-aware name sort ("Böhler" before "Brown")."""

import re

import pytest

from customer360.models import SavedView
from tests.conftest import client_for
from tests.factories import CustomerFactory
from tests.marketing.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def names(html: str) -> list[str]:
    return re.findall(r'<a href="/customers/\d+/">([^<]+)</a>', html)


def test_a_shared_view_is_reused_by_a_second_user(rep, rep2):
    CustomerFactory(first_name="Lea", last_name="Lead", lifecycle="lead", owner=None)
    CustomerFactory(first_name="Kurt", last_name="Kunde", lifecycle="customer", owner=None)
    saved = client_for(rep).post(
        "/customers/views/",
        {
            "name": "Offene Leads",
            "shared": "on",
            "query": "lifecycle=lead&sort=name&cols=email&cursor=xyz&export=csv",
        },
    )
    view = SavedView.objects.get(name="Offene Leads")
    assert (
        saved.status_code == 302 and view.query == "lifecycle=lead&sort=name&cols=email"
    )  # no cursor/export
    other = client_for(rep2)
    listing = other.get("/customers/").content.decode()
    assert f'data-view="{view.pk}"' in listing and "Offene Leads" in listing
    page = other.get(f"/customers/?{view.query}&saved={view.pk}").content.decode()
    assert names(page) == ["Lea Lead"]
    assert "<th>E-mail</th>" in page and "<th>Company</th>" not in page  # the view's columns
    # Only the owner deletes it.
    assert other.post(f"/customers/views/{view.pk}/delete/").status_code == 404
    assert client_for(rep).post(f"/customers/views/{view.pk}/delete/").status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_private_view_is_not_offered_to_others(rep, rep2):
    client_for(rep).post("/customers/views/", {"name": "Meine", "query": "owner=me"})
    assert "Meine" not in client_for(rep2).get("/customers/").content.decode()


def test_names_sort_the_way_people_read_them(rep):
    for last in ("Brown", "Böhler", "Bauer", "Zeller", "Özil"):
        CustomerFactory(first_name="X", last_name=last, owner=rep)
    html = client_for(rep).get("/customers/?sort=name").content.decode()
    order = [n.split(" ", 1)[1] for n in names(html)]
    assert order.index("Böhler") < order.index("Brown") and order.index("Bauer") < order.index("Böhler")
    assert order.index("Özil") < order.index("Zeller")


def test_segment_filter_is_a_picker_by_name(rep):
    segment = SegmentFactory(name="Premium-Kunden")
    html = client_for(rep).get("/customers/").content.decode()
    assert re.search(
        rf'<select name="segment"[^>]*>.*<option value="{segment.pk}">Premium-Kunden</option>', html, re.S
    )

"""The 360 page's timeline filters and the header widgets come from registries, not from lists in
the core's templates (issue #17)."""

import re

import pytest
from django.utils import translation

from customer360 import events, registry
from customer360.models import Channel, TimelineEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _options(html: str, name: str) -> list[str]:
    filters = re.search(r'<form class="filters".*?</form>', html, re.S).group(0)
    select = re.search(rf'<select name="{name}".*?</select>', filters, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)[1:]  # without "all"


def test_timeline_filters_list_every_channel_and_every_declared_kind(rep, customer):
    html = client_for(rep).get(f"/customers/{customer.pk}/").content.decode()
    assert _options(html, "channel") == list(Channel.values)
    assert {"sms", "chat", "api"} <= set(_options(html, "channel"))
    assert sorted(_options(html, "kind")) == sorted(k.kind for k in events.all_kinds())
    assert "internal.post" in _options(html, "kind")  # collab's declaration, read from the registry


def test_kind_filter_shows_only_that_kind_with_german_labels(rep, customer):
    from customer360.services import note_add

    note_add(customer=customer, user=rep, text="Rückruf vereinbart", token="t1")
    client = client_for(rep)
    client.cookies["django_language"] = "de"
    html = client.get(f"/customers/{customer.pk}/?kind=note.added").content.decode()
    assert ">Notiz</option>" in html  # the kind's label in German
    assert "Notiz von" in html and "Rückruf vereinbart" in html
    assert TimelineEvent.objects.get(kind="note.added").title.startswith("Note by")
    empty = client.get(f"/customers/{customer.pk}/?kind=customer.merged").content.decode()
    assert "Notiz von" not in empty


def test_header_widgets_come_from_the_registry(rep):
    client = client_for(rep)
    assert 'id="collab-bell"' in client.get("/customers/").content.decode()
    bell = registry.header_widgets.items.pop("collab.bell")
    try:
        assert 'id="collab-bell"' not in client.get("/customers/").content.decode()
    finally:
        registry.header_widgets.register(bell)
    with translation.override("en"):
        assert registry.header_widgets.all() == [bell]


def test_htmx_fragments_build_no_menu_and_read_no_permissions(rep, customer):
    """The menu (and the permission read it needs) is built only where a template draws it: the 360
    page has it, "load more" and the search typeahead answer without it, in fewer queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customer360 import timeline
    from customer360.timeline_page import encode_cursor

    timeline.record_many(
        timeline.EventData(
            customer_id=customer.pk,
            department="sales",
            kind="note.added",
            title=f"Event {i}",
            idempotency_key=f"frag:{i}",
        )
        for i in range(30)
    )
    client = client_for(rep)
    assert 'data-nav="customers"' in client.get(f"/customers/{customer.pk}/").content.decode()
    oldest_shown = TimelineEvent.objects.filter(customer=customer).order_by("-occurred_at", "-id")[24]
    fragments = {
        "load more": f"/customers/{customer.pk}/timeline/?cursor={encode_cursor(oldest_shown)}",
        "typeahead": "/search/?q=grub",
    }
    # Before: 7 and 6 (the permission read). The typeahead's candidates are read in a transaction of
    # their own with planner settings (search.typeahead): savepoint, settings, ids, release.
    budgets = {"load more": 6, "typeahead": 9}
    for name, url in fragments.items():
        with CaptureQueriesContext(connection) as fragment:
            html = client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert "data-nav" not in html, name
        assert not [q for q in fragment.captured_queries if "auth_permission" in q["sql"]], name
        assert len(fragment) <= budgets[name], (name, [q["sql"][:80] for q in fragment.captured_queries])
    assert "Gruber" in html

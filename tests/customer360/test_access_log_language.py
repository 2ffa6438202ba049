"""Issue #19: the access log's "What" column reads in the reader's language; the stored value stays
as written, so the CSV export and filters see the same value in every language."""

from __future__ import annotations

import pytest

from customer360.audit.access import Action, record_access
from customer360.audit.display import access_what
from tests.conftest import client_for
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_what_reads_in_the_readers_language_and_exports_as_stored(admin_user, rep):
    customer = CustomerFactory()
    record_access(None, Action.VIEW_360, customers=[customer.pk], what="customer page", user=rep)
    record_access(None, Action.EXPORT, rows=3, what="segment 7 members", user=rep)
    client = client_for(admin_user)
    client.cookies["django_language"] = "de"
    german = client.get("/audit/access/").content.decode()
    assert "Kundenseite" in german and "Mitglieder von Segment 7" in german
    assert "customer page" not in german and "segment 7 members" not in german
    client.cookies["django_language"] = "en"
    english = client.get("/audit/access/").content.decode()
    assert "customer page" in english and "members of segment 7" in english
    client.cookies["django_language"] = "de"
    csv = client.get("/audit/access/", {"format": "csv"}).content.decode("utf-8-sig")
    assert "customer page" in csv and "segment 7 members" in csv and "Kundenseite" not in csv


@pytest.mark.parametrize(
    ("stored", "german", "english"),
    [
        ("customer list", "Kundenliste", "customer list"),
        ("subject_export", "Auskunftsexport", "subject export"),
        ("chart sales/pipeline", "Diagramm sales/pipeline", "chart sales/pipeline"),
        ("drill-down sales/pipeline 2026-01 won", "Detailansicht sales/pipeline 2026-01 won", None),
        ("import errors run 12", "Importfehler von Lauf 12", "import errors of run 12"),
        ("something an older version wrote", "something an older version wrote", None),
    ],
)
def test_every_stored_what_has_its_words(stored, german, english):
    from django.utils import translation

    with translation.override("de"):
        assert access_what(stored) == german
    with translation.override("en"):
        assert access_what(stored) == (english or stored)


def test_every_what_the_app_stores_has_words():
    import re
    from pathlib import Path

    from customer360.audit.display import ACCESS_WHAT

    root = Path(__file__).resolve().parents[2]
    stored = set()
    for path in root.glob("*/**/*.py"):
        if path.parts[len(root.parts)] in {"tests", ".venv", "node_modules"} or "migrations" in path.parts:
            continue
        stored |= set(re.findall(r'\bwhat="([^"]+)"', path.read_text(encoding="utf-8")))
    assert stored and stored <= set(ACCESS_WHAT), stored - set(ACCESS_WHAT)

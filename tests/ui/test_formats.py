"""Issue #19 item 2: one formatting path. Money on the pages goes through ``customer360.formatting``
(the ``money``/``number`` filters) in the reader's format, and the browser's date pickers get ISO
values in every language while typed German dates (13.01.2027) are accepted."""

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest

from crm.models import Deal
from tests.conftest import client_for
from tests.crm.factories import make_deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_german_deal_pages_show_money_and_dates_in_german(rep):
    deal = make_deal(rep, CustomerFactory(owner=rep), amount=Decimal("12345.5"))
    Deal.objects.filter(pk=deal.pk).update(expected_close=datetime.date(2027, 1, 13))
    client = client_for(rep)
    detail = client.get(deal.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "EUR 12.345,50" in detail
    board = client.get("/sales/deals/?view=board", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "EUR 12.345,50 · 13.01.2027" in board
    english = client.get("/sales/deals/?view=board").content.decode()
    assert "EUR 12,345.50 · 13 Jan 2027" in english


def test_date_picker_gets_an_iso_value_and_typed_german_dates_are_accepted(rep):
    deal = make_deal(rep, CustomerFactory(owner=rep))
    Deal.objects.filter(pk=deal.pk).update(expected_close=datetime.date(2027, 1, 13))
    client = client_for(rep)
    url = f"/sales/deals/{deal.pk}/edit/"
    form = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    picker = re.search(r'<input type="date" name="expected_close"[^>]*>', form).group(0)
    assert 'value="2027-01-13"' in picker  # "13.01.2027" would leave the picker empty
    assert re.search(r'for="id_owner">Betreuer', form)  # the owner's label in German
    data = {"title": "Premium", "amount": "1234.50", "owner": rep.pk}  # a number input sends a dot
    typed = client.post(url, {**data, "expected_close": "14.02.2027"}, HTTP_ACCEPT_LANGUAGE="de")
    assert typed.status_code == 302
    deal.refresh_from_db()
    assert (deal.expected_close, deal.amount) == (datetime.date(2027, 2, 14), Decimal("1234.50"))
    picked = client.post(url, {**data, "expected_close": "2027-03-15"}, HTTP_ACCEPT_LANGUAGE="de")
    assert picked.status_code == 302
    deal.refresh_from_db()
    assert deal.expected_close == datetime.date(2027, 3, 15)


def test_no_template_formats_money_by_hand():
    """Money is formatted by the ``money`` filter (or ``number`` inside a translated sentence), never by
    ``floatformat`` with grouping or a hard-coded "EUR " before a number."""
    offenders = []
    for path in ROOT.glob("*/templates/**/*.html"):
        if ".venv" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r'floatformat:"-?\dg"', text) or re.search(r"EUR \{\{[^}]*[.|][^}]*\}\}", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []

"""Issue #14: the privacy page, the audit lists, the retention page and the History pages read in
German on a 390 px phone: they fit the screen, dates and amounts are German, no English word of the
app's own is left (the same checks as the fit walk), and a screenshot of each is kept."""

from __future__ import annotations

import datetime
import re

import pytest

from customer360.audit.access import Action, record_access
from customer360.privacy.models import ErasureRequest, SubjectExport
from tests.conftest import client_for
from tests.crm.factories import make_deal
from tests.factories import CustomerFactory, UserFactory
from tests.ui.test_every_page_fits import browser_context, date_formats, english_words, measure

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audit_world(rep, admin_user):
    customer = CustomerFactory(first_name="Franziska", last_name="Huber", owner=rep, city="Wien")
    deal = make_deal(rep, customer, title="Premium", amount=890, expected_close=datetime.date(2027, 3, 31))
    client_for(rep).post(
        f"/sales/deals/{deal.pk}/edit/",
        {"title": "Premium Plus", "amount": "1290.50", "owner": rep.pk, "expected_close": "2027-04-30"},
    )
    client_for(rep).get(f"/customers/{customer.pk}/")  # an access-log row
    record_access(None, Action.EXPORT, customers=[customer.pk], rows=1, what="customer list", user=rep)
    second = UserFactory(username="admin2", role="Admin", is_staff=True)
    ErasureRequest.objects.create(
        customer=customer,
        reason="Brief vom 3. Mai",
        requested_by=admin_user,
        approved_by=second,
        status=ErasureRequest.Status.FAILED,
        error="OSError",
    )
    SubjectExport.objects.create(
        customer=customer, requested_by=admin_user, status="done", counts={"core": 3}
    )
    return customer, deal


def test_privacy_audit_and_history_pages_in_german_at_390_px(
    browser, live_server, admin_user, audit_world, screenshot_dir
):
    customer, deal = audit_world
    pages = {
        "privacy": f"/customers/{customer.pk}/privacy/",
        "access-log": "/audit/access/",
        "change-log": "/audit/changes/",
        "retention": "/audit/retention/",
        "customer-history": f"/customers/{customer.pk}/history/",
        "deal-history": f"/history/crm.deal/{deal.pk}/",
    }
    context = browser_context(browser, live_server.url, admin_user, "de")
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    problems = []
    for name, path in pages.items():
        answer = page.goto(live_server.url + path)
        assert answer.status == 200, path
        text = page.inner_text("body")
        if (excess := measure(page)) > 0:
            problems.append(f"{path}: {excess}px too wide at 390 px")
        if kinds := date_formats(text) - {"de"}:
            problems.append(f"{path}: dates formatted as {sorted(kinds)}")
        # The path column shows the page's URL (e.g. /sales/deals/1/edit/): an address, not words.
        if words := english_words(re.sub(r"/[\w./-]+/", " ", text)):
            problems.append(f"{path}: English words {words}")
        page.screenshot(path=str(screenshot_dir / f"audit-de-390-{name}.png"), full_page=True)
    context.close()
    assert not problems, "\n".join(problems)

"""Scenario 1 in a real browser: five minutes before the call (SCENARIOS.md).

The rep searches "mül", opens the customer, sees every department on the timeline and the
overdue-invoice red flag, logs a call and sees it at the top; the same page in German; screenshots
at desktop and phone width go to the test output folder.
"""

import datetime
import re

import pytest
from django.utils import timezone

from billing import services as billing
from crm import services as crm
from marketing import services as marketing
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mueller(transactional_db):
    rep = UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales", team="Wien")
    service = UserFactory(username="service", role="Service")
    accounting = UserFactory(username="accounting", role="Accounting")
    customer = CustomerFactory(
        first_name="Josef",
        last_name="Müller",
        company="Müller Haustechnik",
        city="Wien",
        postcode="1010",
        owner=rep,
    )
    today = timezone.localdate()
    invoice = billing.invoice_create(
        customer=customer,
        issue_date=today - datetime.timedelta(days=37),
        due_date=today - datetime.timedelta(days=23),
        lines=[{"description": "Basic plan, quarter", "quantity": 1, "unit_price": "1033.33"}],
        actor=accounting,
    )
    billing.invoice_issue(invoice=invoice, actor=accounting)
    billing.dunning_run(today=today)
    crm.ticket_create(
        customer=customer,
        user=service,
        subject="Lieferung verspätet",
        category="complaint",
        channel="phone",
        priority="high",
        opened_at=timezone.now() - datetime.timedelta(days=5),
    )
    marketing.consent_grant(
        customer=customer,
        channel="email",
        purpose="newsletter",
        method="web_form",
        confirmed=True,
        actor=None,
    )
    crm.activity_log(
        customer=customer,
        user=rep,
        subject="Intro call",
        outcome="reached",
        occurred_at=timezone.now() - datetime.timedelta(days=21),
    )
    return customer


def _login(page, base_url, username="rep"):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/customers/")


def test_five_minutes_before_the_call(browser, live_server, mueller, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    _login(page, live_server.url)

    page.keyboard.press("/")
    page.keyboard.type("mül")
    hit = page.locator("#search-results a", has_text="Josef Müller")
    hit.wait_for()
    assert "Müller Haustechnik" in hit.inner_text() and "Wien" in hit.inner_text()
    hit.click()
    page.wait_for_url(re.compile(rf".*/customers/{mueller.pk}/$"))

    for department in ("sales", "service", "marketing", "accounting"):
        assert page.locator(f"#timeline .event.dept-{department}").count() >= 1, department
    red_flags = page.locator(".red-flags").inner_text()
    assert "overdue" in red_flags and "Invoice" in red_flags
    assert "complaint" in red_flags.lower()
    page.screenshot(path=str(screenshot_dir / "scenario1-customer-1280.png"), full_page=True)

    page.click("#crm-sales-panel summary")
    page.fill("#crm-sales-panel input[name=subject]", "Renewal call, service recovery")
    page.select_option("#crm-sales-panel select[name=outcome]", "reached")
    page.click("#crm-sales-panel button[type=submit]")
    first_event = page.locator("#timeline .event").first
    first_event.locator("text=Renewal call, service recovery").wait_for()
    assert "dept-sales" in first_event.get_attribute("class")
    page.screenshot(path=str(screenshot_dir / "scenario1-after-call-1280.png"), full_page=True)

    # The same page in German.
    page.select_option("#lang", "de")
    page.wait_for_load_state("load")
    page.locator("#brief-title", has_text="Vor Ihrem Anruf").wait_for()
    assert page.locator("#timeline-title").inner_text() == "Zeitleiste"
    assert "Warnsignale" in page.locator("#brief").inner_text()
    page.screenshot(path=str(screenshot_dir / "scenario1-customer-de-1280.png"), full_page=True)
    context.close()


def test_customer_page_on_a_phone(browser, live_server, mueller, screenshot_dir):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/customers/{mueller.pk}/")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#brief").is_visible()
    page.screenshot(path=str(screenshot_dir / "scenario1-customer-390.png"), full_page=True)
    page.click("[data-toggle-nav]")
    assert page.locator("#mainnav").is_visible()
    page.screenshot(path=str(screenshot_dir / "scenario1-menu-390.png"))
    context.close()

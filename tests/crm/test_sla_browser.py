"""A service agent pauses and resumes a ticket's SLA clock, a rep reads the money on the 360 page:
in English and German, on a laptop and a phone."""

import pytest

from tests.billing.test_panels import overdue
from tests.crm.factories import make_ticket
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORDS = {
    "en": {
        "wait": "Wait for the customer (pause the SLA clock)",
        "resume": "Customer answered: resume the SLA clock",
        "paused": "Paused",
        "money": "EUR 1,250.00 open (invoice EUR 1,240.00 + dunning fees EUR 10.00)",
    },
    "de": {
        "wait": "Auf den Kunden warten (SLA-Uhr anhalten)",
        "resume": "Kunde hat geantwortet: SLA-Uhr weiterlaufen lassen",
        "paused": "Angehalten",
        "money": "EUR 1.250,00 offen (Rechnung EUR 1.240,00 + Mahngebühren EUR 10,00)",
    },
}


def _login(page, base_url, username, language):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/customers/")
    if language == "de":
        with page.expect_navigation():
            page.select_option("#lang", "de")


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("width", [1366, 390])
def test_ticket_page_pause_and_360_money(browser, live_server, screenshot_dir, width, language):
    words = WORDS[language]
    agent = UserFactory(username="service", first_name="Sabine", last_name="Koller", role="Service")
    UserFactory(username="rep", first_name="Rainer", last_name="Pichler", role="Sales")
    customer = CustomerFactory(first_name="Josef", last_name="Gruber", city="Wien")
    ticket = make_ticket(agent, customer=customer, priority="high")
    overdue(customer, 23, 2, amount="1033.33", number="2026-0142")

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "service", language)
    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    page.click(f"text={words['wait']}")
    clock = page.locator(".sla-clock")
    clock.wait_for()
    assert words["paused"] in clock.inner_text()
    box = clock.locator("dd").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    page.screenshot(path=str(screenshot_dir / f"sla-ticket-paused-{language}-{width}.png"), full_page=True)
    page.click(f"text={words['resume']}")
    page.locator(f"text={words['wait']}").wait_for()
    context.close()

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "rep", language)
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    panel = page.locator('[data-panel="billing"]').locator("xpath=..")
    assert words["money"] in " ".join(panel.inner_text().split())
    box = page.locator('[data-panel="billing"]').bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    page.screenshot(path=str(screenshot_dir / f"sla-360-money-{language}-{width}.png"), full_page=True)
    context.close()

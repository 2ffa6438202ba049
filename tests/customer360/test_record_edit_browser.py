"""A rep edits a customer's record in place (htmx) on a phone and on a laptop: the form swaps in,
the saved record swaps back, the timeline shows the change without a reload."""

import pytest

from customer360.models import Customer
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1366, 390])
def test_inline_edit_of_a_customer(browser, live_server, screenshot_dir, width):
    rep = UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales")
    customer = CustomerFactory(first_name="Josef", last_name="Gruber", city="Wien", owner=rep)
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
    page.goto(f"{live_server.url}{customer.get_absolute_url()}")
    page.keyboard.press("e")  # the shortcut clicks "Edit record"
    page.locator("#save-record").wait_for()
    page.fill("#id_email", "josef@beispiel")  # the browser lets it through, the server does not
    page.click("#save-record")
    page.locator("#customer-record .error").first.wait_for()
    page.fill("#id_email", "josef@example.at")
    page.fill("#id_city", "Salzburg")
    page.click("#save-record")
    page.locator("#record-saved").wait_for()
    assert "Salzburg" in page.locator("#customer-record").inner_text()
    page.locator("#timeline", has_text="Record changed").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(screenshot_dir / f"record-edit-{width}.png"), full_page=True)
    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.city, saved.email) == ("Salzburg", "josef@example.at")

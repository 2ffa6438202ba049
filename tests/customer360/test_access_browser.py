"""A manager puts a customer into accounting's scope on "Who works with this customer", in English and
German, on a laptop and a phone; accounting then finds the customer."""

import pytest

from customer360.models import Customer
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base_url, username):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/customers/")


@pytest.mark.parametrize(("width", "language"), [(1366, "en"), (390, "de")])
def test_manager_assigns_a_customer_to_accounting(browser, live_server, screenshot_dir, width, language):
    UserFactory(username="manager", first_name="Markus", last_name="Hofer", role="Manager")
    accounting = UserFactory(username="accounting", role="Accounting")
    customer = CustomerFactory(first_name="Josef", last_name="Gruber", city="Wien")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "manager")
    if language == "de":
        with page.expect_navigation():
            page.select_option("#lang", "de")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    link = {"en": "Who works with this customer", "de": "Wer mit diesem Kunden arbeitet"}[language]
    page.click(f"text={link}")
    page.locator("h1", has_text=link).wait_for()
    page.select_option("#id_department", "accounting")
    page.fill("#id_reason", "Dunning from the ERP")
    page.click("#assign-form button[type=submit]")
    row = page.locator("#assignments tbody tr").first
    row.wait_for()
    assert "Dunning from the ERP" in row.inner_text()
    assert {"en": "Accounting", "de": "Buchhaltung"}[language] in row.inner_text()
    # The page's own content fits the screen (the top navigation's width at 1366 px is issue #19's).
    box = page.locator("#assignments").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    page.screenshot(path=str(screenshot_dir / f"access-{language}-{width}.png"), full_page=True)
    context.close()
    assert list(Customer.objects.visible_to(accounting)) == [customer]

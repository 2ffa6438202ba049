"""The exchange-rate page and a customer's purchases on the 360 page, in English and German, at
390 px and 1366 px: they fit the screen, and screenshots are kept in test-output/."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from crm.models import ExchangeRate, Order, OrderLine
from tests.factories import CustomerFactory
from tests.ui.test_every_page_fits import browser_context

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_rates_page_and_purchases_fit_in_both_languages(browser, live_server, admin_user, screenshot_dir):
    ExchangeRate.objects.create(currency="GBP", valid_from=date(2010, 11, 1), rate=Decimal("1.17"))
    customer = CustomerFactory(first_name="Josef", last_name="Gruber")
    order = Order.objects.create(
        customer=customer, number="536365", ordered_at=datetime(2010, 12, 1, 8, 26, tzinfo=ZoneInfo("UTC")),
        currency="GBP", rate=Decimal("1.17"), total=Decimal("55.98"), total_base=Decimal("65.4966"),
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, key="1", stock_code="85123A", description="WHITE HANGING HEART T-LIGHT HOLDER",
        quantity=6, unit_price=Decimal("9.33"), amount=Decimal("55.98"), amount_base=Decimal("65.4966"),
    )  # fmt: skip
    expected = {
        "en": ("Exchange rates", "GBP 55.98 = EUR 65.50"),
        "de": ("Wechselkurse", "GBP 55,98 = EUR 65,50"),
    }
    for language, (heading, purchases) in expected.items():
        context = browser_context(browser, live_server.url, admin_user, language)
        page = context.new_page()
        for width in (390, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/sales/exchange-rates/")
            assert heading in page.locator("h1").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(
                path=str(screenshot_dir / f"exchange-rates-{language}-{width}.png"), full_page=True
            )
            page.goto(f"{live_server.url}{customer.get_absolute_url()}")
            assert purchases in page.locator('[data-fact="purchases"]').inner_text()
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(screenshot_dir / f"purchases-{language}-{width}.png"), full_page=True)
        context.close()

"""The identity settings on a source's page and the learned thresholds on the duplicate queue, in
a real browser: they fit 390 px and 1366 px, in English and German (screenshots in test-output/)."""

import pytest

from customer360.sources import services
from customer360.sources.models import DuplicateCandidate
from tests.factories import CustomerFactory
from tests.sources.factories import DataSourceFactory
from tests.ui.test_every_page_fits import browser_context

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "en": ("Identity across sources", "the same as in Web shop", "What the finder proposes", "75.0"),
    "de": (
        "Identität über Quellen hinweg",
        "dieselben wie in Web shop",
        "Was die Duplikatsuche vorschlägt",
        "75,0",
    ),
}


def test_identity_settings_and_thresholds_fit_and_speak_both_languages(
    browser, live_server, admin_user, screenshot_dir
):
    shop = DataSourceFactory(slug="shop", name="Web shop")
    erp = DataSourceFactory(slug="erp", name="ERP")
    services.source_identity_set(source=erp, shares_ids_with=shop, id_columns=[("Shop-Kunde", "shop")])
    for index in range(6):
        a, b = CustomerFactory(), CustomerFactory()
        DuplicateCandidate.objects.create(
            customer_a_id=a.pk, customer_b_id=b.pk, score=86 + index, basis="external_id", status="merged"
        )
    for language, (heading, shared, thresholds, learned) in TEXTS.items():
        context = browser_context(browser, live_server.url, admin_user, language)
        page = context.new_page()
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/sources/erp/")
            assert heading in page.inner_text("#identity-across-sources")
            assert shared in page.inner_text("#shares-ids")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=screenshot_dir / f"source-identity-{language}-{width}.png", full_page=True)
            page.goto(f"{live_server.url}/sources/duplicates/")
            assert thresholds in page.content()
            assert learned in page.inner_text('#threshold-table tr[data-basis="external_id"]')
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(
                path=screenshot_dir / f"duplicate-thresholds-{language}-{width}.png", full_page=True
            )
        context.close()

"""Browser: the mapping page suggests the columns that identify a row, and the preview has the worker
check the whole file (refused rows, rows sharing a key, repeated lines) while the page polls, in English
and German, phone and desktop."""

import pytest

from customer360.sources import tasks
from customer360.sources.models import ImportRun
from tests.sources.factories import DataSourceFactory
from tests.ui.test_every_page_fits import WIDEST, browser_context

TEXTS = {
    "en": ("Checked all 2,000 rows as the run will.", "36 rows share their key with an earlier row"),
    "de": ("Alle 2.000 Zeilen geprüft, wie es der Import tun wird.", "36 Zeilen haben denselben Schlüssel"),
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "de"])
def test_preview_checks_the_whole_file_and_shows_the_row_key(
    browser, live_server, screenshot_dir, fixture_path, admin_user, language, monkeypatch
):
    # The page answers with the first rows and polls the check; the test plays the worker.
    queued = []
    monkeypatch.setattr(tasks.check_file, "apply_async", lambda args, **kw: queued.append(args))
    DataSourceFactory(slug="online-retail", target="events", department="sales")
    context = browser_context(browser, live_server.url, admin_user, language)
    page = context.new_page()
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/sources/online-retail/")
        page.set_input_files("#id_file", str(fixture_path("online_retail_2000.csv")))
        page.click("#upload")
        page.wait_for_selector("#row-key")
        checked = page.locator("#row-key input:checked").evaluate_all(
            "boxes => boxes.map(b => b.parentElement.textContent.trim())"
        )
        assert checked == ["InvoiceNo", "StockCode", "Quantity"]
        page.select_option("select[name='const_field_0']", "kind")
        page.fill("input[name='const_value_0']", "order.placed")
        page.click("#preview-button")
        page.wait_for_selector("#file-check[data-status=queued]")
        page.wait_for_selector("#preview-table")
        assert tasks.check_file.run(*queued[-1]) == "done"
        page.wait_for_selector("#file-check[data-status=done]")  # the next poll brings the result
        checked_all, shared = TEXTS[language]
        assert checked_all in page.inner_text("#file-check")
        assert page.inner_text("#check-keys").startswith(shared)
        assert page.evaluate(WIDEST) == "", f"too wide at {width} px"
        page.screenshot(
            path=str(screenshot_dir / f"sources-file-check-{language}-{width}.png"), full_page=True
        )
    context.close()
    assert len(queued) == 2
    assert ImportRun.objects.filter(created__gt=0).count() == 0

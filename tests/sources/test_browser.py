"""Browser: an admin creates a CSV source, uploads, maps, previews, runs, watches the progress bar
and downloads the error file (phone and desktop widths)."""

import pytest

from customer360.celery import app as celery_app
from customer360.sources.models import ImportRun
from tests.conftest import authenticator_for, totp_code
from tests.factories import UserFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_connects_a_csv_source(browser, live_server, screenshot_dir, fixture_path, tmp_path):
    # No worker in this test: the import task runs eagerly (the task itself is tested for real elsewhere).
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        _walk_through(browser, live_server, screenshot_dir, fixture_path, tmp_path)
    finally:
        celery_app.conf.task_always_eager = eager
    assert ImportRun.objects.filter(status="done").count() == 2


def _walk_through(browser, live_server, screenshot_dir, fixture_path, tmp_path):
    device = authenticator_for(UserFactory(username="sabine", role="Admin"))
    for step, (width, tag) in enumerate(((1280, "desktop"), (390, "phone"))):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "sabine")
        page.fill("#id_password", "demo")
        page.press("#id_password", "Enter")
        # Admins confirm the sign-in with their authenticator app; each code is accepted once.
        page.wait_for_url("**/accounts/two-factor/**")
        page.fill("#id_token", totp_code(device, offset=step))
        page.press("#id_token", "Enter")
        page.wait_for_url("**/customers/")
        page.goto(f"{live_server.url}/sources/")
        page.click("#new-source")
        page.fill("#id_name", f"ERP export {tag}")
        page.select_option("#id_kind", "csv")
        page.select_option("#id_department", "accounting")
        page.select_option("#id_target", "customers")
        page.click("#create-source")
        page.set_input_files("#id_file", str(fixture_path("erp_customers_cp1252.csv")))
        page.click("#upload")
        page.wait_for_selector("#mapping-table")
        assert page.locator("select[data-column='Kundennummer']").input_value() == "external_id"  # suggested
        page.select_option("select[data-column='Umsatz']", "attributes")
        page.select_option("select[name='type_8']", "decimal")
        page.select_option("select[data-column='Newsletter']", "attributes")
        page.select_option("select[name='type_9']", "bool")
        page.click("#preview-button")
        page.wait_for_selector("#preview-bad")
        assert "4 rows have errors" in page.inner_text("#preview-bad")
        assert "31.02.1990" in page.inner_text("#preview-table")
        page.screenshot(path=str(screenshot_dir / f"sources-preview-{width}.png"), full_page=True)
        page.click("#run-button")
        page.wait_for_selector("#run-progress[data-status='done']", timeout=20000)
        assert page.locator("progress.progress").get_attribute("value") == "100"
        # The second source finds the same two customers again by e-mail: nothing is duplicated.
        expected = ("2", "0") if tag == "desktop" else ("0", "2")
        assert (
            page.inner_text("[data-count='created']"),
            page.inner_text("[data-count='unchanged']"),
        ) == expected
        assert page.inner_text("[data-count='failed']") == "4"
        page.screenshot(path=str(screenshot_dir / f"sources-run-{width}.png"), full_page=True)
        with page.expect_download() as download_info:
            page.click("#error-file")
        target = tmp_path / f"errors-{tag}.csv"
        download_info.value.save_as(target)
        text = target.read_bytes().decode("utf-8-sig")
        assert "K-1003" in text and "31.02.1990" in text and "is not a date" in text
        page.close()

"""Scenario 2 in a real browser: a manager opens each dashboard, changes the period, drills down once."""

from __future__ import annotations

import re

import pytest

from analytics import services
from tests.analytics.factories import build_world
from tests.factories import UserFactory

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BOARDS = ["sales", "service", "marketing", "receivables", "nba", "customers"]


def _login(browser, live_server, username, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.locator("form button[type=submit], form input[type=submit]").last.click()
    page.wait_for_load_state()
    return context, page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_opens_dashboards_filters_and_drills_down(browser, live_server, screenshot_dir):
    rep = UserFactory(username="anna", role="Sales", team="Wien")
    rep2 = UserFactory(username="lukas", role="Sales", team="Graz")
    UserFactory(username="markus", role="Manager")
    build_world(rep, rep2)
    services.rollups_refresh(full=True)
    services.customer_risk_refresh()
    errors: list[str] = []
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page = _login(browser, live_server, "markus", viewport)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for key in BOARDS:
            page.goto(f"{live_server.url}/dashboards/{key}/")
            page.wait_for_selector(".plot[data-ready=true]")
            assert page.locator(".plot .main-svg").count() >= 1  # drawn by the local plotly.js
            page.screenshot(path=str(screenshot_dir / f"dashboards-{key}-{name}.png"), full_page=True)
            if name == "phone":
                continue
            page.select_option("#id_period", "90d")
            page.locator("form.filters button[type=submit]").click()
            page.wait_for_url(re.compile(r"period=90d"))
            page.wait_for_selector(".plot[data-ready=true]")
            # Drill down from the first chart's data table (the accessible twin of clicking a bar).
            page.locator("details.data-table summary").first.click()
            page.locator("details.data-table tbody a").first.click()
            page.wait_for_url(re.compile(r"/drill/"))
            assert page.locator("#drill-count").is_visible()
            assert "period=90d" in page.url
            page.screenshot(path=str(screenshot_dir / f"dashboards-{key}-drill-{name}.png"), full_page=True)
        context.close()
    assert not errors, errors

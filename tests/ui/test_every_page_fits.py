"""Issue #19 item 1: every page of every role fits the screen at 1366 px and 390 px, in English and
German (no sideways scrolling: the document is no wider than the viewport), and the top navigation
is grouped per area and usable with the keyboard.

The pages are the GET routes of the role x route matrix (tests/security/role_route_matrix.txt) that
answer 200 for the role, filled in with the matrix's fixture objects ("world"); API routes and
downloads (non-HTML answers) and htmx fragments are left out. Each page is loaded once per language and measured at both
widths (the viewport is resized in place), so the walk loads about 2 x 263 pages.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import client_for
from tests.security.test_role_route_matrix import MATRIX_FILE, ROLES, concrete, world  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1366, 390)
SCREENSHOT_ROUTES = {"customers/", "customers/<int:pk>/", "feed/", "dashboards/"}


def pages_for(role: str) -> list[str]:
    """Matrix routes that are pages (not API) and answer 200 for ``role``."""
    column = ROLES.index(role)
    found = []
    for line in MATRIX_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        route, statuses = (part.strip() for part in line.split("|"))
        if route.startswith("api/") or statuses.split()[column] != "200":
            continue
        found.append(route)
    return found


def browser_context(browser, base_url: str, user, language: str):
    """A browser signed in as ``user`` (the session of a test client, second factor confirmed)."""
    client = client_for(user)
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    cookies = [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    cookies.append({"name": "django_language", "value": language, "url": base_url})
    context.add_cookies(cookies)
    return context


def measure(page) -> int:
    """How far the document sticks out past the viewport, in CSS pixels (0 = fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def walk(page, base_url, role, language, objects, screenshot_dir) -> list[str]:
    overflows = []
    for route in pages_for(role):
        path, _bound = concrete(route, objects, "in")
        try:
            answer = page.goto(base_url + path)
        except PlaywrightError as error:  # a download (CSV, PDF, ...) is no page
            if "Download is starting" in str(error):
                continue
            raise
        if answer is None or "text/html" not in (answer.headers.get("content-type") or ""):
            continue
        lang = page.evaluate("document.documentElement.lang")
        if not lang:  # an htmx fragment (e.g. the timeline's next page), shown inside a full page
            continue
        assert lang == language, path
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            excess = measure(page)
            if excess > 0:
                overflows.append(f"{role} {language} {width}px {path}: {excess}px too wide")
            if route in SCREENSHOT_ROUTES:
                name = f"fit-{role.lower()}-{language}-{width}-{route.strip('/').split('/')[0]}.png"
                page.screenshot(path=str(screenshot_dir / name))
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return overflows


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_page_of_any_role_scrolls_sideways(browser, live_server, world, role_users, screenshot_dir, language):  # noqa: F811
    overflows = []
    for role in ROLES:
        context = browser_context(browser, live_server.url, role_users[role], language)
        page = context.new_page()
        overflows += walk(page, live_server.url, role, language, world, screenshot_dir)
        context.close()
    assert not overflows, "\n".join(overflows)

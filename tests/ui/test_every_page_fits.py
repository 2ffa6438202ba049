"""Issue #19 item 1: every page of every role fits the screen at 1366 px and 390 px, in English and
German (no sideways scrolling: the document is no wider than the viewport), and the top navigation
is grouped per area and usable with the keyboard.

The pages are the GET routes of the role x route matrix (tests/security/role_route_matrix.txt) that
answer 200 for the role, filled in with the matrix's fixture objects ("world"); API routes and
downloads (non-HTML answers) and htmx fragments are left out. Each page is loaded once per language and measured at both
widths (the viewport is resized in place). ``pages_for`` says which sample of the 263 role/page pairs
each language walks (FIT_ALL=1: all of them).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import client_for
from tests.security.test_role_route_matrix import MATRIX_FILE, ROLES, concrete, world  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1366, 390)
ONLY_ROLE = os.environ.get("FIT_ROLE", "")  # while fixing a page: walk one role only
SCREENSHOT_ROUTES = {
    "customers/",
    "customers/<int:pk>/",
    "feed/",
    "dashboards/",
    "insights/outcomes/<int:pk>/",
    "insights/outcomes/new/",
    "insights/actions/new/",
    "sales/exchange-rates/",
    "sources/<slug:slug>/",
    "sources/runs/<int:pk>/mapping/",
    "sources/runs/<int:pk>/undo/",
}
EVERY_ROLE = {"customers/", "customers/<int:pk>/", "feed/", "account/api-tokens/"}
WALK_ALL = bool(os.environ.get("FIT_ALL"))


def matrix_pages() -> dict[str, list[str]]:
    """Matrix routes that are pages (not API), each with the roles it answers 200 for."""
    found = {}
    for line in MATRIX_FILE.read_text(encoding="utf-8").splitlines()[1:]:
        route, statuses = (part.strip() for part in line.split("|"))
        allowed = [role for role, status in zip(ROLES, statuses.split(), strict=True) if status == "200"]
        if not route.startswith("api/") and allowed:
            found[route] = allowed
    return found


def pages_for(role: str, language: str) -> list[str]:
    """The sample of pages ``role`` walks in ``language``: the pages every role uses (the header and
    its menus differ per role), and each other page for one of the roles that may open it, a
    different one per language; so every page is seen in both languages, by two roles where two
    may open it. Set FIT_ALL=1 to walk every page for every role (about 2.5 times longer)."""
    shift = 0 if language == "en" else 1
    sample = []
    for index, (route, allowed) in enumerate(matrix_pages().items()):
        if role not in allowed:
            continue
        if WALK_ALL or route in EVERY_ROLE or allowed[(index + shift) % len(allowed)] == role:
            sample.append(route)
    return sample


def browser_context(browser, base_url: str, user, language: str):
    """A browser signed in as ``user`` (the session of a test client, second factor confirmed)."""
    client = client_for(user)
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    cookies = [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    cookies.append({"name": "django_language", "value": language, "url": base_url})
    context.add_cookies(cookies)
    return context


WIDEST = """() => {
  const width = window.innerWidth, found = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1)) {
      found.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + [...el.classList].join("."));
    }
  }
  return found.slice(0, 3).join(", ");
}"""


DATE_PATTERNS = {
    "iso": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "us": re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b"),
    "de": re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b"),
    "en": re.compile(r"\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b"),
    "en-long": re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}\b"),
    "weekday": re.compile(
        r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Montag|Dienstag|"
        r"Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), \d{1,2}\."
    ),
}
DATE_FORMAT = {"en": "en", "de": "de"}


def date_formats(text: str) -> set[str]:
    """The kinds of date format found in a page's text."""
    return {kind for kind, pattern in DATE_PATTERNS.items() if pattern.search(text)}


def english_words(text: str) -> list[str]:
    """The app's own English words and short phrases (msgids of locale/de with a different German
    msgstr) found in ``text``; see ``english_vocabulary``."""
    return sorted({word for word, pattern in english_vocabulary() if pattern.search(text)})


def in_context(text: str, word: str) -> str:
    """The first place ``word`` shows in ``text``, with 40 characters either side (for the report)."""
    match = re.search(rf"\b{re.escape(word)}\b", text)
    return text[max(0, match.start() - 40) : match.end() + 40].replace("\n", " ") if match else ""


def measure(page) -> int:
    """How far the document sticks out past the viewport, in CSS pixels (0 = fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def walk(page, base_url, role, language, objects, screenshot_dir, texts: dict) -> list[str]:
    """Measures each page at both widths; keeps each page's visible text in ``texts`` (path -> text)."""
    overflows = []
    for route in pages_for(role, language):
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
        texts[f"{role} /{route}"] = page.inner_text("body")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            excess = measure(page)
            if excess > 0:  # charts redraw for the new width a moment after the resize
                page.wait_for_timeout(400)
                excess = measure(page)
            if excess > 0:
                widest = page.evaluate(WIDEST)
                overflows.append(f"{role} {language} {width}px {path}: {excess}px too wide ({widest})")
            if route in SCREENSHOT_ROUTES:
                page_name = re.sub(r"<[^>]*>", "detail", route.strip("/")).replace("/", "-")
                name = f"fit-{role.lower()}-{language}-{width}-{page_name}.png"
                page.screenshot(path=str(screenshot_dir / name))
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
    return overflows


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_page_of_any_role_scrolls_sideways(
    browser,
    live_server,
    world,  # noqa: F811
    role_users,
    screenshot_dir,
    language,
):
    overflows, texts = [], {}
    for role in ROLES if not ONLY_ROLE else [ONLY_ROLE]:
        context = browser_context(browser, live_server.url, role_users[role], language)
        page = context.new_page()
        overflows += walk(page, live_server.url, role, language, world, screenshot_dir, texts)
        context.close()
    problems = overflows
    # The same walk reads every page: one date format per page, the language's own (issue #19 item 2) ...
    for page, text in texts.items():
        kinds = date_formats(text)
        if kinds - {DATE_FORMAT[language]} - KNOWN_GAPS.get(route_of(page), set()):
            problems.append(f"{page}: dates formatted as {sorted(kinds)}")
        # ... and no English word of the app's own on a German page (item 3).
        if language == "de" and (found := set(english_words(text)) - KNOWN_GAPS.get(route_of(page), set())):
            where = {w: in_context(text, w) for w in sorted(found)}
            problems.append(f"{page}: English words {sorted(found)} in {where}")
    assert not problems, "\n".join(problems)


def test_menus_open_and_close_with_the_keyboard(browser, live_server, manager):
    context = browser_context(browser, live_server.url, manager, "de")
    page = context.new_page()
    page.goto(live_server.url + "/customers/")
    toggle = page.locator("button[aria-controls='nav-insights']")
    assert toggle.inner_text().startswith("Auswertungen")
    assert not page.locator("#nav-insights").is_visible()
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("#nav-insights a[data-nav='dashboards']").is_visible()
    page.keyboard.press("Tab")  # into the open menu
    assert page.evaluate("document.activeElement.dataset.nav") == "dashboards"
    page.keyboard.press("Escape")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("#nav-insights").is_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "nav-insights"
    # The user's menu holds the account pages and signing out.
    page.click("#user-menu-button")
    page.click("#menu-api-tokens")
    page.wait_for_url(live_server.url + "/account/api-tokens/")
    context.close()


# What the walk still finds and another part of issue #19 / another branch owns; each entry is a
# reported gap, not an accepted state. The 360 page's timeline titles are stored in English and get
# rendered per language by the event declarations (branches "evcore", "evcrm", "evbill"); fixture names
# ("Topic n") are data; the code of conduct and dunning letters are texts an admin edits.
KNOWN_GAPS = {
    # The choice of a source's number and date format shows each locale's own example (by design).
    "/sources/new/": {"us", "de", "en", "iso"},
    # Data an admin or the fixtures typed, shown as entered: space names ("Topic 3"), the code of
    # conduct, the English letter texts of the dunning levels.
    "/feed/": {"Topic"},
    "/feed/spaces/": {"Topic"},
    "/feed/spaces/<slug:slug>/": {"Topic"},
    "/feed/conduct/": {
        "what",
        "Customer",
        "customers",
        "department",
        "kind",
        "never",
        "posts",
        "reference",
        "rules",
        "when",
    },
    "/billing/dunning/": {"collection"},
}


def route_of(page: str) -> str:
    """ "Sales /feed/" -> "/feed/"."""
    return page.split(" ", 1)[1]


PO_FILE = Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES" / "django.po"
# English msgids that also read as German or as names on German pages (not UI words left untranslated).
SAME_IN_GERMAN = {
    "Feed",
    "Team",
    "Teams",
    "Dashboards",
    "Service",
    "Marketing",
    "Analytics",
    "Pipeline",
    "CSV",
    "E-mail",
    "Spam",
    "Sentiment",
    "Backlog",
    "Leads",
    "Lead",
    "Status",
    "Name",
    "Tickets",
}


@functools.cache
def english_vocabulary() -> list[tuple[str, re.Pattern]]:
    """Short msgids (one to three words, no placeholders) whose German msgstr differs: when one of
    them appears on a German page, a label was left untranslated."""
    entries = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', PO_FILE.read_text(encoding="utf-8"), re.M)
    vocabulary = []
    for msgid, msgstr in entries:
        words = msgid.split()
        if not msgid or msgstr in ("", msgid) or "%" in msgid or "{" in msgid or not 1 <= len(words) <= 3:
            continue
        if msgid in SAME_IN_GERMAN or len(msgid) < 4 or not msgid[0].isalpha():
            continue
        if msgid.lower() in msgstr.lower():  # e.g. "Newsletter" inside "Newsletter-Anmeldung"
            continue
        vocabulary.append((msgid, re.compile(rf"(?<![\w.-]){re.escape(msgid)}(?![\w-]|\.\w)")))
    return vocabulary

"""Issue #17 acceptance: a German user's timeline shows every demo event kind in German with German
number and date formats; an English user's in English (headless Chromium, screenshots).

A small demo (30 customers) is seeded; for every kind the demo wrote, the 360 page of a customer with
such an event is opened with the timeline filtered to that kind. Each shown title is compared with the
event's stored title (the English rendering): in German it must differ and carry no English number or
date formats; in English it must equal it. A kind nobody has declared yet keeps its stored English text,
so this test names every such kind when it fails (the departments' declarations close the gap).
"""

import re

import pytest
from django.core.management import call_command

from customer360 import events
from customer360.models import TimelineEvent

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# English formats that must not appear in a German title: "1,240.00", "12.50" (decimal point),
# "13 Jan 2027" (the English date format) or "01/13/2027";
# the German date 22.11.2026 is not a decimal (its parts only look like one).
ENGLISH_NUMBER = re.compile(r"\d,\d{3}(?:[.,]|\b)|(?<![\d.])\d+\.\d{2}(?![\d.])")
ENGLISH_DATE = re.compile(
    r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b"
)
# The timeline's day headings use the language's one date format (#19): 13.01.2027 in German.
GERMAN_DAY = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
# The demo users who between them see every event (audiences of internal spaces included).
VIEWERS = ("manager", "service_lead", "accounting", "marketing", "rep")


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", customers=30, seed=7)


def _one_event_per_kind() -> dict[str, tuple[str, TimelineEvent]]:
    """For every kind in the demo: a viewer and one event of that kind the viewer may see."""
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.filter(username__in=VIEWERS)}
    chosen: dict[str, tuple[str, TimelineEvent]] = {}
    for kind in TimelineEvent.objects.order_by().values_list("kind", flat=True).distinct():
        for name in VIEWERS:
            event = TimelineEvent.objects.visible_to(users[name]).filter(kind=kind).order_by("-id").first()
            if event is not None:
                chosen[kind] = (name, event)
                break
    return chosen


def _login(page, base_url: str, username: str, language: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/customers/$"))
    if page.get_attribute("html", "lang") != language:
        with page.expect_navigation():
            page.select_option("#lang", language)
    page.wait_for_selector(f"html[lang={language}]")


def _walk(page, base_url: str, language: str, chosen, screenshot_dir) -> dict[str, str]:
    """Open each kind's customer page; return {kind: problem} for the kinds that fail."""
    problems: dict[str, str] = {}
    viewer = None
    shots = 0
    for kind, (name, event) in sorted(chosen.items(), key=lambda item: item[1][0]):
        if name != viewer:
            _login(page, base_url, name, language)
            viewer = name
        page.goto(f"{base_url}/customers/{event.customer_id}/?kind={kind}")
        row = page.locator(f"#event-{event.pk}")
        if row.count() == 0:
            problems[kind] = "not shown on the 360 page"
            continue
        shown = row.locator(".event-title").inner_text().strip()
        if shots < 4:  # a few pages per language are enough to look at
            page.screenshot(path=str(screenshot_dir / f"timeline-{language}-{kind}.png"), full_page=True)
            shots += 1
        problem = _problem(language, kind, shown, event)
        if problem:
            problems[kind] = problem
        if language == "de":
            heading = page.locator("#timeline .day h3").first.inner_text().strip()
            if not GERMAN_DAY.match(heading):
                problems[kind] = f"day heading not German: {heading!r}"
    return problems


def _problem(language: str, kind: str, shown: str, event: TimelineEvent) -> str:
    stored = event.title.strip()
    if language == "en":
        return "" if shown == stored else f"English title {shown!r} differs from the stored {stored!r}"
    if events.get(kind) is None:
        return f"undeclared kind: stored English title shown ({stored!r})"
    if shown == stored:
        return f"stored English title shown: {shown!r}"
    if ENGLISH_NUMBER.search(shown) or ENGLISH_DATE.search(shown):
        return f"English number or date format in {shown!r}"
    return ""


def test_every_demo_kind_reads_in_the_readers_language(browser, live_server, demo, screenshot_dir):
    chosen = _one_event_per_kind()
    demo_kinds = set(TimelineEvent.objects.values_list("kind", flat=True))
    assert set(chosen) == demo_kinds, f"kinds no demo user can see: {sorted(demo_kinds - set(chosen))}"
    assert len(chosen) >= 10  # the demo writes every department's kinds
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    german = _walk(page, live_server.url, "de", chosen, screenshot_dir)
    english = _walk(page, live_server.url, "en", chosen, screenshot_dir)
    context.close()
    checked = sorted(set(chosen) - set(german))
    print(f"kinds checked in German: {checked}")  # noqa: T201 - the lead reads which kinds passed
    assert english == {}
    report = "\n".join(f"{kind}: {problem}" for kind, problem in sorted(german.items()))
    assert german == {}, f"not German for {len(german)} kinds (fine: {checked}):\n{report}"

"""Issue #19: the notifications page in Chromium, German and English at 390 and 1366 px: each reader
sees the same notification in their language, and the page fits (screenshots in test-output/)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import translation

from collab import services
from tests.collab.factories import accept_conduct, post
from tests.ui.test_every_page_fits import browser_context, english_words, measure

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_notifications_page_in_both_languages_at_both_widths(
    browser, live_server, service_user, accounting_user, screenshot_dir
):
    accept_conduct(service_user, accounting_user)
    with translation.override("de"):  # written by a German-speaking colleague
        post(service_user, "@accounting Bitte die Rechnung 2026-0142 prüfen")
        request = services.RequestData(to_department="accounting", due_date=datetime.date(2026, 1, 13))
        post(service_user, "Zahlungsziel verlängern?", request=request)
    expected = {"de": ("hat Sie erwähnt", "Neu – Frage von"), "en": ("mentioned you", "New Question from")}
    for language in ("de", "en"):
        context = browser_context(browser, live_server.url, accounting_user, language)
        page = context.new_page()
        page.goto(live_server.url + "/feed/notifications/")
        text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
        for words in expected[language]:
            assert words in text, (language, text)
        if language == "de":
            assert "mentioned you" not in text and english_words(text) == []
        for width in (390, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            assert measure(page) <= 0, (language, width)
            page.screenshot(
                path=str(screenshot_dir / f"notifications-{language}-{width}.png"), full_page=True
            )
        context.close()

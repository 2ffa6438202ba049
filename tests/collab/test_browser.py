"""Scenario 4 in a real browser: ask accounting about Gruber, answer, resolve, see it on the timeline."""

import re

import pytest

from collab import services
from collab.models import Acceptance, DepartmentRequest
from tests.collab.factories import give_department_access
from tests.factories import CustomerFactory, UserFactory

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _login(browser, live_server, username, viewport=DESKTOP):
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
def test_scenario_4_request_across_departments(browser, live_server, screenshot_dir):
    agent = UserFactory(username="petra", first_name="Petra", last_name="Steiner", role="Service")
    clerk = UserFactory(username="thomas", first_name="Thomas", last_name="Bauer", role="Accounting")
    UserFactory(username="julia", role="Marketing")
    anna = UserFactory(username="anna", role="Sales")
    gruber = CustomerFactory(
        first_name="Franz", last_name="Gruber", company="Gruber Installationen GmbH", owner=anna
    )
    give_department_access(gruber, "service")
    give_department_access(gruber, "accounting")
    code = services.conduct_publish(text="Be kind and assume good intent.", by=None)
    services.conduct_accept(user=agent, code=code)

    # The service agent asks accounting, references Gruber through the picker and files a request.
    context, page = _login(browser, live_server, "petra")
    page.goto(f"{live_server.url}/feed/")
    page.fill("#id_body", "@accounting can we pause dunning for ")
    page.fill("#customer-ref", "Gruber")
    page.locator("[data-insert-ref]").first.click()
    page.locator("#id_body").press("End")
    page.locator("#id_body").type("until the replacement ships?")
    assert re.search(r"#C-\d+ until", page.input_value("#id_body"))
    page.locator("details.request-fields summary").click()
    page.select_option("#id_request_to", "accounting")
    page.select_option("#id_priority", "high")
    page.screenshot(path=str(screenshot_dir / "collab-composer-desktop.png"), full_page=True)
    page.click("#post-submit")
    page.wait_for_url(re.compile(r"/feed/posts/\d+/"))
    assert "Franz Gruber" in page.inner_text(".post-body")
    page.screenshot(path=str(screenshot_dir / "collab-request-filed-desktop.png"), full_page=True)
    context.close()

    # The accounting clerk sees it in the inbox, accepts the rules, answers and resolves.
    context, page = _login(browser, live_server, "thomas")
    page.goto(f"{live_server.url}/feed/requests/")
    assert "pause dunning" in page.inner_text("#request-inbox")
    page.screenshot(path=str(screenshot_dir / "collab-inbox-desktop.png"), full_page=True)
    page.locator("#request-inbox a").first.click()
    page.fill("#id_comment_body", "Yes, dunning is paused until the replacement has shipped.")
    page.click("#answer-submit")
    page.wait_for_url(re.compile(r"/feed/conduct/"))
    page.click("#accept-conduct")
    page.wait_for_url(re.compile(r"/feed/posts/\d+/"))
    page.fill("#id_comment_body", "Yes, dunning is paused until the replacement has shipped.")
    page.click("#answer-submit")
    page.wait_for_load_state()
    page.click("#resolve-request")
    page.wait_for_load_state()
    assert page.inner_text("#request-status").strip() == "Resolved"
    page.screenshot(path=str(screenshot_dir / "collab-resolved-desktop.png"), full_page=True)
    context.close()
    request = DepartmentRequest.objects.get()
    assert request.status == "resolved" and request.first_answered_by_id == clerk.pk
    assert Acceptance.objects.filter(user=clerk, code=code).exists()

    # The discussion is on Gruber's timeline for the agent (desktop and phone) ...
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context, page = _login(browser, live_server, "petra", viewport)
        page.goto(f"{live_server.url}/customers/{gruber.pk}/")
        timeline = page.inner_text("#timeline")
        assert "Internal request to Accounting by Petra Steiner" in timeline
        page.screenshot(path=str(screenshot_dir / f"collab-timeline-{name}.png"), full_page=True)
        if name == "phone":
            page.goto(f"{live_server.url}/feed/")
            page.screenshot(path=str(screenshot_dir / "collab-feed-phone.png"), full_page=True)
        context.close()

    # ... and not for marketing, who may not see Gruber: no customer page, no name in the feed.
    context, page = _login(browser, live_server, "julia")
    response = page.goto(f"{live_server.url}/customers/{gruber.pk}/")
    assert response.status == 404
    page.goto(f"{live_server.url}/feed/")
    feed = page.inner_text("main")
    assert "pause dunning" in feed and "Gruber" not in feed
    page.screenshot(path=str(screenshot_dir / "collab-feed-no-access-desktop.png"), full_page=True)
    context.close()

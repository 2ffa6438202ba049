"""Issue #16, acceptance: the rep's buttons keep working while the engine rescores in the background.

A rep adds a note and logs a call on the 360 page (both wake the engine, whose rescoring runs here
in the test process, as the worker would), then accepts the recommendation shown before: the
acceptance is recorded and the panel refreshes. The same with a dismissal after a rescoring that
happens between the page load and the click.
"""

import re

import pytest

from insights import services
from insights.engine import score_customers
from insights.models import Action, ContactPolicy, Recommendation
from tests.factories import CustomerFactory, UserFactory
from tests.insights.factories import event, gruber_history, history

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gruber(transactional_db):
    rep = UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales", team="Wien")
    customer = CustomerFactory(first_name="Franz", last_name="Gruber", owner=rep)
    ContactPolicy.objects.update(holdout_share=0.0)
    Action.objects.update(exploration_share=0.0)
    gruber_history(customer)
    score_customers([customer.pk])
    return customer


def _login(page, base_url, username="rep"):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/customers/")


def _rescore_in_background(customer) -> None:
    """What the NBA worker does when it wakes up for the customer."""
    services.customers_rescore(customer_ids=[customer.pk])


def test_accept_and_dismiss_survive_background_rescoring(browser, live_server, gruber, screenshot_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/customers/{gruber.pk}/")
    shown = {
        key: int(page.locator(f"#nba-panel article[data-action={key}]").get_attribute("data-rec"))
        for key in ("service_recovery_call", "renewal_call")
    }
    before = set(Recommendation.objects.filter(customer=gruber, status="open").values_list("pk", flat=True))
    assert set(shown.values()) <= before

    # A note and a call: each is recorded on the timeline and wakes the engine.
    page.click(".quick-note summary")
    page.fill("#note-form textarea[name=text]", "Wants to talk about the complaint first.")
    page.click("#note-form button[type=submit]")
    page.locator("#timeline", has_text="Wants to talk about the complaint first.").wait_for()
    _rescore_in_background(gruber)
    page.click("#crm-sales-panel summary")
    page.fill("#crm-sales-panel input[name=subject]", "Service recovery")
    page.select_option("#crm-sales-panel select[name=outcome]", "reached")
    page.click("#crm-sales-panel button[type=submit]")
    page.locator("#timeline", has_text="Service recovery").wait_for()
    _rescore_in_background(gruber)

    # Accept the recommendation that was shown before the note and the call.
    page.locator("#nba-panel article[data-action=service_recovery_call] button", has_text="Accept").click()
    page.locator("#nba-panel .nba-item.accepted[data-action=service_recovery_call]").wait_for()
    accepted = Recommendation.objects.get(pk=shown["service_recovery_call"])
    assert (accepted.status, accepted.decided_by.username) == ("accepted", "rep")
    assert "In progress" in page.locator("#nba-panel").inner_text()
    assert page.locator("#nba-panel .bad").count() == 0
    page.locator("#timeline", has_text="Recommendation accepted").wait_for()
    page.screenshot(path=str(screenshot_dir / "nba-accepted-1280.png"), full_page=True)

    # A rescoring between the page load and the click, with new information for the engine.
    page.reload()
    renewal = page.locator("#nba-panel article[data-action=renewal_call]")
    renewal.wait_for()
    history(event(gruber, "email.clicked", "marketing", 0.01, campaign="Premium newsletter"))
    _rescore_in_background(gruber)
    renewal.locator("select[name=reason]").select_option("bad_timing")
    renewal.locator("button", has_text="Dismiss").click()
    page.locator("#nba-panel article[data-action=renewal_call]").wait_for(state="detached")
    dismissed = Recommendation.objects.get(pk=shown["renewal_call"])
    assert (dismissed.status, dismissed.dismiss_reason) == ("dismissed", "bad_timing")
    assert page.locator("#nba-panel .bad").count() == 0
    page.locator("#timeline", has_text=re.compile("Recommendation dismissed")).wait_for()
    page.screenshot(path=str(screenshot_dir / "nba-dismissed-1280.png"), full_page=True)
    context.close()


def test_a_superseded_recommendation_answers_in_the_panel(browser, live_server, gruber):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    _login(page, live_server.url)
    page.goto(f"{live_server.url}/customers/{gruber.pk}/")
    plan = page.locator("#nba-panel article[data-action=payment_plan_offer]")
    plan.wait_for()
    Action.objects.filter(key="payment_plan_offer").update(lever=0)  # the engine drops it
    _rescore_in_background(gruber)
    plan.locator("button", has_text="Accept").click()
    notice = page.locator("#nba-panel .nba-notice")
    notice.wait_for()
    assert "“Payment-plan offer” is no longer recommended for this customer" in notice.inner_text()
    assert page.locator("#nba-panel article[data-action=payment_plan_offer]").count() == 0
    context.close()

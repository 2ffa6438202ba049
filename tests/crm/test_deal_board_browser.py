"""The deal board: a rep drags a deal into the next stage's column; the move goes through the crm
service, so the stage changes and the timeline has the event. At 390 px the columns stack."""

import pytest

from crm.models import Deal
from customer360.models import TimelineEvent
from tests.crm.factories import first_stage, make_deal
from tests.factories import CustomerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _login(page, base_url, username):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/customers/")


def _next_stage(stage):
    return (
        type(stage)
        .objects.filter(pipeline=stage.pipeline, is_won=False, is_lost=False, order__gt=stage.order)
        .order_by("order")
        .first()
    )


def test_drag_a_deal_to_the_next_stage(browser, live_server, screenshot_dir):
    rep = UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales")
    customer = CustomerFactory(first_name="Josef", last_name="Gruber", owner=rep)
    deal = make_deal(rep, customer, title="Premium-Paket", amount=890)
    start, target = first_stage(), _next_stage(first_stage())
    assert deal.stage == start and target is not None

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    _login(page, live_server.url, "rep")
    page.goto(f"{live_server.url}/sales/deals/?view=board")
    card = page.locator(f"#deal-card-{deal.pk}")
    column = page.locator(f'.board-column[data-stage="{target.pk}"]')
    card.drag_to(column.locator("[data-drop]"))
    column.locator(f"#deal-card-{deal.pk}").wait_for()
    assert column.locator("[data-count]").inner_text() == "1"
    assert column.locator("[data-total]").inner_text() == "EUR 890.00"
    page.screenshot(path=str(screenshot_dir / "deal-board-1366.png"), full_page=True)

    deal.refresh_from_db()
    assert deal.stage == target
    event = TimelineEvent.objects.get(customer=customer, kind="deal.stage_changed")
    assert "Premium-Paket" in event.title and target.name in event.title
    # The page did not grow sideways; on a phone the columns stack.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 900})
    page = phone.new_page()
    _login(page, live_server.url, "rep")
    page.goto(f"{live_server.url}/sales/deals/?view=board")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Without a mouse: the card's "Move to" list and button.
    page.locator(f"#deal-card-{deal.pk} select[name=stage]").select_option(str(start.pk))
    page.locator(f"#deal-card-{deal.pk} button[type=submit]").click()
    page.wait_for_url("**/sales/deals/?view=board")
    page.screenshot(path=str(screenshot_dir / "deal-board-390.png"), full_page=True)
    assert Deal.objects.get(pk=deal.pk).stage == start
    phone.close()


def test_keyboard_help_and_shortcuts(browser, live_server, screenshot_dir):
    UserFactory(username="rep", first_name="Anna", last_name="Berger", role="Sales")
    page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
    _login(page, live_server.url, "rep")
    page.keyboard.press("?")
    help_dialog = page.locator("#shortcut-help")
    help_dialog.wait_for(state="visible")
    assert "Go to the deal board" in help_dialog.inner_text()
    page.screenshot(path=str(screenshot_dir / "shortcut-help-390.png"))
    page.keyboard.press("Escape")
    help_dialog.wait_for(state="hidden")
    page.keyboard.press("g")
    page.keyboard.press("b")
    page.wait_for_url("**/sales/deals/?view=board")
    assert page.locator("#deal-board").is_visible()

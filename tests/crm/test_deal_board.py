"""The deal board's columns per stage, and the move endpoint it posts to (JSON for drag and drop,
a redirect back to the board for the keyboard form)."""

import pytest

from crm.models import Deal, Stage
from customer360.models import TimelineEvent
from tests.conftest import client_for
from tests.crm.factories import first_stage, make_deal
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def next_stage(stage):
    return (
        Stage.objects.filter(pipeline=stage.pipeline, is_won=False, is_lost=False, order__gt=stage.order)
        .order_by("order")
        .first()
    )


def test_board_has_a_column_per_open_stage_with_its_cards(rep):
    deal = make_deal(rep, CustomerFactory(owner=rep), title="Premium")
    html = client_for(rep).get("/sales/deals/?view=board").content.decode()
    open_stages = Stage.objects.filter(pipeline=deal.stage.pipeline, is_won=False, is_lost=False)
    assert html.count('class="board-column"') >= open_stages.count()
    assert f'id="deal-card-{deal.pk}"' in html and 'draggable="true"' in html


def test_json_move_goes_through_the_service_and_lands_on_the_timeline(rep):
    deal = make_deal(rep, CustomerFactory(owner=rep), title="Premium")
    target = next_stage(first_stage())
    client = client_for(rep)
    answer = client.post(
        f"/sales/deals/{deal.pk}/move/", {"stage": target.pk}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 200 and answer.json() == {"deal": deal.pk, "stage": target.pk}
    assert Deal.objects.get(pk=deal.pk).stage == target
    assert TimelineEvent.objects.filter(customer=deal.customer, kind="deal.stage_changed").count() == 1
    won = Stage.objects.filter(pipeline=target.pipeline, is_won=True).first()
    refused = client.post(f"/sales/deals/{deal.pk}/move/", {"stage": won.pk}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and refused.json()["error"]
    back = client.post(f"/sales/deals/{deal.pk}/move/", {"stage": first_stage().pk, "next": "board"})
    assert back.status_code == 302 and back["Location"] == "/sales/deals/?view=board"


def test_move_of_an_out_of_scope_deal_is_404(rep, rep2):
    deal = make_deal(rep2, CustomerFactory(owner=rep2), title="Fremd")
    answer = client_for(rep).post(
        f"/sales/deals/{deal.pk}/move/",
        {"stage": next_stage(first_stage()).pk},
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 404 and Deal.objects.get(pk=deal.pk).stage == first_stage()

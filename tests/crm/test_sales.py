"""Sales workflows: deals, contracts, activities — one event per action, retries, refusals."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm import services
from crm.models import Activity, Deal, Stage
from customer360.models import TimelineEvent
from tests.crm.factories import make_activity, make_contract, make_deal

pytestmark = pytest.mark.django_db


def kinds(customer):
    return sorted(TimelineEvent.objects.filter(customer=customer).values_list("kind", flat=True))


def test_deal_lifecycle_writes_one_event_per_action_even_when_retried(rep):
    deal = make_deal(rep)
    proposal = Stage.objects.get(name="Proposal")
    for _ in range(2):
        services.deal_move_stage(deal=deal, stage=proposal, user=rep)
    for _ in range(2):
        deal = services.deal_mark_won(deal=deal, user=rep)
    assert deal.status == "won" and deal.stage.is_won and deal.closed_at
    assert kinds(deal.customer) == ["deal.created", "deal.stage_changed", "deal.won"]
    moved = TimelineEvent.objects.get(kind="deal.stage_changed")
    assert moved.title == "Deal Premium moved from Qualification to Proposal"
    assert moved.payload == {
        "deal_id": deal.pk,
        "title": "Premium",
        "amount": "890.00",
        "stage": "Proposal",
        "previous_stage": "Qualification",
    }


def test_moving_back_and_forth_records_each_move(rep):
    deal = make_deal(rep)
    qualification, proposal = Stage.objects.get(name="Qualification"), Stage.objects.get(name="Proposal")
    services.deal_move_stage(deal=deal, stage=proposal, user=rep)
    services.deal_move_stage(deal=deal, stage=qualification, user=rep)
    services.deal_move_stage(deal=deal, stage=proposal, user=rep)
    assert TimelineEvent.objects.filter(kind="deal.stage_changed").count() == 3


def test_deal_create_with_token_is_idempotent(rep, customer):
    first = make_deal(rep, customer, token="abc")
    again = make_deal(rep, customer, token="abc")
    assert first.pk == again.pk and Deal.objects.count() == 1
    assert kinds(customer) == ["deal.created"]


def test_refused_deal_actions_write_nothing(rep):
    deal = make_deal(rep)
    with pytest.raises(ValidationError) as no_reason:
        services.deal_mark_lost(deal=deal, user=rep, reason="  ")
    assert "lost_reason" in no_reason.value.message_dict
    services.deal_mark_lost(deal=deal, user=rep, reason="Too expensive")
    before = TimelineEvent.objects.count()
    with pytest.raises(ValidationError) as won_refused:
        services.deal_mark_won(deal=deal, user=rep)
    assert won_refused.value.message_dict == {"status": ["The deal is already Lost."]}
    with pytest.raises(ValidationError):
        services.deal_move_stage(deal=deal, stage=Stage.objects.get(name="Proposal"), user=rep)
    with pytest.raises(ValidationError) as closing:
        services.deal_move_stage(deal=make_deal(rep), stage=Stage.objects.get(name="Won"), user=rep)
    assert "stage" in closing.value.message_dict
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Too expensive")
    assert TimelineEvent.objects.count() == before + 1  # only the second deal's creation


def test_contract_create_renew_cancel(rep, customer):
    contract = make_contract(rep, customer, renewal_date=timezone.localdate() + timedelta(days=42))
    new_date = contract.renewal_date + timedelta(days=365)
    for _ in range(2):
        contract = services.contract_renew(contract=contract, user=rep, renewal_date=new_date)
    assert contract.renewal_date == new_date and contract.renewals == 1
    for _ in range(2):
        contract = services.contract_cancel(contract=contract, user=rep)
    assert contract.status == "cancelled"
    with pytest.raises(ValidationError):
        services.contract_renew(contract=contract, user=rep)
    assert kinds(customer) == ["contract.cancelled", "contract.renewed", "contract.started"]


def test_activity_log_event_kinds_and_payload(rep, customer):
    follow = timezone.localdate() + timedelta(days=14)
    call = make_activity(rep, customer, outcome="reached", follow_up_date=follow, token="call-1")
    assert (
        make_activity(rep, customer, outcome="reached", follow_up_date=follow, token="call-1").pk == call.pk
    )
    make_activity(rep, customer, kind="meeting")
    make_activity(rep, customer, kind="note")
    assert Activity.objects.count() == 3
    # A sales note is crm's "note.logged"; "note.added" is the core's free note on the timeline.
    assert kinds(customer) == ["call.logged", "meeting.logged", "note.logged"]
    event = TimelineEvent.objects.get(kind="call.logged")
    assert event.channel == "phone" and event.title == "Call: Check-in (Reached)"
    assert event.payload == {
        "activity_id": call.pk,
        "subject": "Check-in",
        "outcome": "reached",
        "follow_up": follow.isoformat(),
    }
    with pytest.raises(ValidationError) as refused:
        make_activity(rep, customer, deal=make_deal(rep))
    assert "deal" in refused.value.message_dict

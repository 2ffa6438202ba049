"""Deals: open one, move it through the stages, close it as won or lost."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext

from crm import events
from crm.models import Deal, Stage, refuse
from crm.services.once import create_once, token_key
from customer360 import timeline
from customer360.events import EventKind
from customer360.models import Customer


def _record(deal: Deal, kind: EventKind, *parts, user, key: str = "", **extra):
    return kind.record(
        customer=deal.customer_id,
        key=key or timeline.idempotency_key("crm.deal", deal.pk, *parts),
        actor=user,
        source=deal,
        **events.deal_values(kind, deal, **extra),
    )


def deal_create(
    *,
    customer: Customer,
    user,
    title: str,
    amount: Decimal | int | str = 0,
    stage: Stage | None = None,
    expected_close: date | None = None,
    owner=None,
    token: str = "",
) -> Deal:
    """Open a deal in the first stage of the default pipeline (or the given open stage)."""
    if not title.strip():
        raise refuse("title", gettext("A title is required."))
    if Decimal(amount) < 0:
        raise refuse("amount", gettext("The amount cannot be negative."))
    if stage is None:
        stage = (
            Stage.objects.filter(pipeline__is_default=True, is_won=False, is_lost=False)
            .order_by("order")
            .first()
        )
    if stage is None or stage.is_closing:
        raise refuse("stage", gettext("A new deal starts in an open stage; use won/lost to close it."))
    key = token_key("crm.deal", token)

    def create() -> Deal:
        return Deal.objects.create(
            customer=customer,
            title=title.strip(),
            amount=Decimal(amount),
            stage=stage,
            expected_close=expected_close,
            owner=owner or user,
        )

    def record(deal: Deal):
        return _record(deal, events.DEAL_CREATED, "created", user=user, key=key)

    return create_once(model=Deal, token_key=key, create=create, record=record)


def _locked_deal(deal: Deal) -> Deal:
    return Deal.objects.select_for_update().select_related("stage").get(pk=deal.pk)


def deal_move_stage(*, deal: Deal, stage: Stage, user) -> Deal:
    """Move an open deal to another open stage of its pipeline (deal.stage_changed)."""
    with transaction.atomic():
        deal = _locked_deal(deal)
        previous = deal.move_to_stage(stage)
        if previous is None:
            return deal  # already there: a retried move changes nothing
        deal.save(update_fields=["stage", "stage_changes"])
        parts = ("stage", deal.stage_changes, stage.pk)
        _record(deal, events.DEAL_STAGE_CHANGED, *parts, user=user, previous_stage=previous)
    return deal


def deal_mark_won(*, deal: Deal, user) -> Deal:
    """Close a deal as won (deal.won); a won deal stays won, a lost deal is refused."""
    with transaction.atomic():
        deal = _locked_deal(deal)
        if deal.win():
            deal.save(update_fields=["stage", "status", "closed_at"])
            _record(deal, events.DEAL_WON, "won", user=user)
    return deal


def deal_mark_lost(*, deal: Deal, user, reason: str) -> Deal:
    """Close a deal as lost with a reason (deal.lost); a won deal is refused."""
    if not (reason or "").strip():
        raise refuse("lost_reason", gettext("Say why the deal was lost."))
    with transaction.atomic():
        deal = _locked_deal(deal)
        if deal.lose(reason=reason):
            deal.save(update_fields=["stage", "status", "lost_reason", "closed_at"])
            _record(deal, events.DEAL_LOST, "lost", user=user)
    return deal

"""Contracts: start, renew and cancel what a customer owns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import Contract, Product, refuse
from crm.services.once import create_once, token_key
from customer360 import timeline
from customer360.events import EventKind
from customer360.models import Customer


def _record(contract: Contract, kind: EventKind, key: str, user):
    return kind.record(
        customer=contract.customer_id,
        key=key,
        actor=user,
        source=contract,
        **events.contract_values(kind, contract),
    )


def contract_create(
    *,
    customer: Customer,
    product: Product,
    user,
    start: date | None = None,
    end: date | None = None,
    renewal_date: date | None = None,
    value_per_year: Decimal | None = None,
    token: str = "",
) -> Contract:
    """Start a subscription (contract.started); renewal defaults to one year after the start."""
    start = start or timezone.localdate()
    if end and end < start:
        raise refuse("end", gettext("The end lies before the start."))
    key = token_key("crm.contract", token)

    def create() -> Contract:
        return Contract.objects.create(
            customer=customer,
            product=product,
            start=start,
            end=end,
            renewal_date=renewal_date or Contract.default_renewal(start, end),
            value_per_year=product.price if value_per_year is None else value_per_year,
        )

    def record(contract: Contract):
        own_key = key or timeline.idempotency_key("crm.contract", contract.pk, "started")
        return _record(contract, events.CONTRACT_STARTED, own_key, user)

    return create_once(model=Contract, token_key=key, create=create, record=record)


def _locked_contract(contract: Contract) -> Contract:
    return Contract.objects.select_for_update().select_related("product").get(pk=contract.pk)


def contract_cancel(*, contract: Contract, user, end: date | None = None) -> Contract:
    """Cancel an active contract (contract.cancelled); cancelling twice changes nothing."""
    with transaction.atomic():
        contract = _locked_contract(contract)
        if contract.cancel(end=end):
            contract.save(update_fields=["status", "cancelled_at", "end"])
            key = timeline.idempotency_key("crm.contract", contract.pk, "cancelled")
            _record(contract, events.CONTRACT_CANCELLED, key, user)
    return contract


def contract_renew(*, contract: Contract, user, renewal_date: date | None = None) -> Contract:
    """Renew an active contract to the next renewal date (default: one year later; contract.renewed).

    A retry with the same ``renewal_date`` changes nothing.
    """
    with transaction.atomic():
        contract = _locked_contract(contract)
        if contract.renew(renewal_date):
            contract.save(update_fields=["renewal_date", "end", "renewals"])
            new_date = contract.renewal_date.isoformat()
            key = timeline.idempotency_key("crm.contract", contract.pk, "renewed", new_date)
            _record(contract, events.CONTRACT_RENEWED, key, user)
    return contract

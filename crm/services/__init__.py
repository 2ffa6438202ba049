"""Sales and service workflows. Every action writes its records AND exactly one timeline event.

Retries are safe: creating actions accept an optional ``token`` (e.g. the API's Idempotency-Key
header) — a second call with the same token returns the first result; state changes derive their
event key from the record and its new state, and repeating a change already made does nothing.
Refused actions raise ``ValidationError({field: [reason]})`` before anything is written. The rules
about one record are the model's (crm.models); the events are built from crm.events.

One module per concern: activities, deals, contracts, tickets, sla (the periodic breach check).
"""

from crm.services.activities import activity_log
from crm.services.contracts import contract_cancel, contract_create, contract_renew
from crm.services.deals import deal_create, deal_mark_lost, deal_mark_won, deal_move_stage
from crm.services.sla import ticket_flag_sla_breaches
from crm.services.tickets import (
    ticket_close,
    ticket_create,
    ticket_record_csat,
    ticket_reopen,
    ticket_reply,
    ticket_set_status,
    ticket_solve,
    ticket_update,
)

__all__ = [
    "activity_log",
    "contract_cancel",
    "contract_create",
    "contract_renew",
    "deal_create",
    "deal_mark_lost",
    "deal_mark_won",
    "deal_move_stage",
    "ticket_close",
    "ticket_create",
    "ticket_flag_sla_breaches",
    "ticket_record_csat",
    "ticket_reopen",
    "ticket_reply",
    "ticket_set_status",
    "ticket_solve",
    "ticket_update",
]

"""Sales and service records in a subject export, and what erasure does to them: the person's
own words (tickets, messages, call notes, survey comments) are replaced; deals and contracts stay
as figures with their text scrubbed of the person's names; orders and their lines (numbers,
products, amounts: no words of the person) stay as the figures the books need."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from crm.models import Activity, Contract, Deal, Order, OrderLine, Satisfaction, Ticket, TicketMessage
from customer360.privacy.registry import SubjectData, rows, scrub_fields, subject_data
from customer360.privacy.text import ERASED


def export(customer) -> dict[str, list[dict]]:
    return {
        "contracts": rows(Contract.objects.filter(customer=customer)),
        "deals": rows(Deal.objects.filter(customer=customer)),
        "activities": rows(Activity.objects.filter(customer=customer)),
        "tickets": rows(Ticket.objects.filter(customer=customer)),
        "ticket_messages": rows(TicketMessage.objects.filter(ticket__customer=customer)),
        "satisfaction": rows(Satisfaction.objects.filter(ticket__customer=customer)),
        "orders": rows(Order.objects.filter(customer=customer)),
        "order_lines": rows(OrderLine.objects.filter(order__customer=customer)),
    }


def erase(customer, request) -> dict[str, int]:
    needles = request.needles
    return {
        "deals": scrub_fields(Deal.objects.filter(customer=customer), ("title", "lost_reason"), needles),
        "activities": Activity.objects.filter(customer=customer).update(subject=ERASED, notes=""),
        "tickets": Ticket.objects.filter(customer=customer).update(subject=ERASED, description=""),
        "ticket_messages": TicketMessage.objects.filter(ticket__customer=customer).update(body=ERASED),
        "satisfaction": Satisfaction.objects.filter(ticket__customer=customer).update(comment=""),
    }


subject_data.register(
    SubjectData(
        key="crm", label=_("Sales and service"), app_labels=("crm",), export=export, erase=erase, order=20
    )
)

"""The deal, ticket and activity lists as export tables for the core's one export path: a header and
(customer ids, row) records, so a handed-out file is access-logged with the customers it names."""

from __future__ import annotations

from django.utils.translation import gettext as _

from crm.models import Activity, Deal, Ticket


def _label(choices, value) -> str:
    return str(dict(choices).get(value, value or ""))


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def deal_table(deals) -> tuple[list[str], object]:
    """Every deal of the filtered list, newest first."""
    header = [
        _("Deal"),
        _("Title"),
        _("Customer number"),
        _("Customer"),
        _("Stage"),
        _("Status"),
        _("Amount (EUR)"),
        _("Expected close"),
        _("Owner"),
        _("Created"),
    ]
    records = (
        (
            [d.customer_id],
            [
                d.pk,
                d.title,
                d.customer.customer_number,
                d.customer.display_name,
                str(d.stage),
                _label(Deal.Status.choices, d.status),
                d.amount,
                d.expected_close,
                _person(d.owner),
                d.created_at,
            ],
        )
        for d in deals.order_by("-created_at", "-id").iterator(chunk_size=2000)
    )
    return header, records


def ticket_table(tickets) -> tuple[list[str], object]:
    """Every ticket of the filtered list, newest first, with its SLA due times."""
    header = [
        "#",
        _("Subject"),
        _("Customer number"),
        _("Customer"),
        _("Category"),
        _("Priority"),
        _("Status"),
        _("Assignee"),
        _("Opened"),
        _("First response due"),
        _("Resolution due"),
    ]
    records = (
        (
            [t.customer_id],
            [
                t.pk,
                t.subject,
                t.customer.customer_number,
                t.customer.display_name,
                _label(Ticket.Category.choices, t.category),
                _label(Ticket.Priority.choices, t.priority),
                _label(Ticket.Status.choices, t.status),
                _person(t.assignee),
                t.opened_at,
                t.first_response_due,
                t.resolution_due,
            ],
        )
        for t in tickets.order_by("-opened_at", "-id").iterator(chunk_size=2000)
    )
    return header, records


def activity_table(activities) -> tuple[list[str], object]:
    """The activities of the list in its order (follow-ups by date, otherwise newest first)."""
    header = [
        _("When"),
        _("Kind"),
        _("Subject"),
        _("Customer number"),
        _("Customer"),
        _("Outcome"),
        _("Follow-up"),
        _("Follow-up done"),
        _("By"),
    ]
    records = (
        (
            [a.customer_id],
            [
                a.occurred_at,
                _label(Activity.Kind.choices, a.kind),
                a.subject,
                a.customer.customer_number,
                a.customer.display_name,
                _label(Activity.Outcome.choices, a.outcome),
                a.follow_up_date,
                _("yes") if a.follow_up_done else _("no"),
                _person(a.user),
            ],
        )
        for a in activities.iterator(chunk_size=2000)
    )
    return header, records

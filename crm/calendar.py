"""What crm puts into each user's calendar feed: open follow-ups (all-day, on their date) and the
SLA due times of the user's open tickets (first response while unanswered, resolution)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Activity, Ticket
from customer360.registry import CalendarEntry, CalendarSource, calendar_sources


def follow_up_entries(user, customers, since):
    activities = (
        Activity.objects.filter(
            user=user,
            follow_up_done=False,
            follow_up_date__gte=timezone.localtime(since).date(),
            customer__in=customers,
        )
        .select_related("customer")
        .order_by("follow_up_date", "id")
    )
    for activity in activities:
        yield CalendarEntry(
            uid=f"c360-follow-up-{activity.pk}",
            summary=_("Follow-up: %(subject)s (%(customer)s)")
            % {"subject": activity.subject, "customer": activity.customer.display_name},
            start=activity.follow_up_date,
            url=activity.get_absolute_url(),
        )


def sla_entries(user, customers, since):
    tickets = (
        Ticket.objects.filter(assignee=user, status__in=Ticket.OPEN_STATUSES, customer__in=customers)
        .select_related("customer")
        .order_by("id")
    )
    for ticket in tickets:
        name = ticket.customer.display_name
        if (
            ticket.first_response_at is None
            and ticket.first_response_due
            and ticket.first_response_due >= since
        ):
            yield CalendarEntry(
                uid=f"c360-ticket-{ticket.pk}-first-response",
                summary=_("First response due: #%(pk)s %(subject)s (%(customer)s)")
                % {"pk": ticket.pk, "subject": ticket.subject, "customer": name},
                start=ticket.first_response_due,
                url=ticket.get_absolute_url(),
                minutes=15,
            )
        if ticket.resolution_due and ticket.resolution_due >= since:
            yield CalendarEntry(
                uid=f"c360-ticket-{ticket.pk}-resolution",
                summary=_("Resolution due: #%(pk)s %(subject)s (%(customer)s)")
                % {"pk": ticket.pk, "subject": ticket.subject, "customer": name},
                start=ticket.resolution_due,
                url=ticket.get_absolute_url(),
                minutes=15,
            )


calendar_sources.register(CalendarSource(key="crm.follow_ups", entries=follow_up_entries, order=10))
calendar_sources.register(CalendarSource(key="crm.sla", entries=sla_entries, order=20))

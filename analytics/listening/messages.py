"""Where customer text comes from: tickets, customers' ticket messages, call notes and e-mails
(activities), survey comments (CSAT). Read incrementally by id, in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from analytics.models import ListenedMessage
from crm.models import Activity, Satisfaction, Ticket, TicketMessage

MAX_TEXT = 2000
#: Activities that were a contact with the customer (a sales note is not the customer's voice).
CUSTOMER_CONTACTS = (Activity.Kind.CALL, Activity.Kind.EMAIL, Activity.Kind.MEETING, Activity.Kind.VISIT)


@dataclass
class Text:
    source: str
    source_id: int
    customer_id: int
    occurred_at: datetime
    text: str
    url: str


def _ticket_texts(after: int) -> Iterator[Text]:
    rows = Ticket.objects.filter(pk__gt=after).order_by("pk")
    for pk, customer_id, when, subject, description in rows.values_list(
        "pk", "customer_id", "opened_at", "subject", "description"
    ).iterator(chunk_size=5000):
        yield Text(
            "ticket", pk, customer_id, when, f"{subject}. {description}".strip(), f"/sales/tickets/{pk}/"
        )


def _ticket_message_texts(after: int) -> Iterator[Text]:
    # Replies written by staff are not the customer's voice; inbound messages have no author.
    rows = TicketMessage.objects.filter(pk__gt=after, is_internal=False, author__isnull=True).order_by("pk")
    for pk, ticket_id, customer_id, when, body in rows.values_list(
        "pk", "ticket_id", "ticket__customer_id", "created_at", "body"
    ).iterator(chunk_size=5000):
        yield Text("ticket_message", pk, customer_id, when, body, f"/sales/tickets/{ticket_id}/")


def _activity_texts(after: int) -> Iterator[Text]:
    rows = (
        Activity.objects.filter(pk__gt=after, kind__in=CUSTOMER_CONTACTS)
        .filter(~Q(notes="") | ~Q(subject=""))
        .order_by("pk")
    )
    for pk, customer_id, when, subject, notes in rows.values_list(
        "pk", "customer_id", "occurred_at", "subject", "notes"
    ).iterator(chunk_size=5000):
        yield Text(
            "activity", pk, customer_id, when, f"{subject}. {notes}".strip(" ."), f"/sales/activities/{pk}/"
        )


def _survey_texts(after: int) -> Iterator[Text]:
    rows = Satisfaction.objects.filter(pk__gt=after).exclude(comment="").order_by("pk")
    for pk, ticket_id, customer_id, when, comment in rows.values_list(
        "pk", "ticket_id", "ticket__customer_id", "created_at", "comment"
    ).iterator(chunk_size=5000):
        yield Text("survey", pk, customer_id, when, comment, f"/sales/tickets/{ticket_id}/")


READERS = {
    ListenedMessage.Source.TICKET: _ticket_texts,
    ListenedMessage.Source.TICKET_MESSAGE: _ticket_message_texts,
    ListenedMessage.Source.ACTIVITY: _activity_texts,
    ListenedMessage.Source.SURVEY: _survey_texts,
}


def new_texts() -> Iterator[Text]:
    """Texts not yet listened to (ids above each source's highest listened id)."""
    for source, reader in READERS.items():
        last = (
            ListenedMessage.objects.filter(source=source)
            .order_by("-source_id")
            .values_list("source_id", flat=True)
            .first()
        )
        for text in reader(last or 0):
            if text.text.strip():
                text.text = text.text[:MAX_TEXT]
                yield text

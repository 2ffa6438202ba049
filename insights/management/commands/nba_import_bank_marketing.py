"""``manage.py nba_import_bank_marketing [--path CSV] [--limit N]``: bank clients as customers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from crm.events import CALL_LOGGED
from customer360 import timeline
from customer360.models import Customer
from insights import bank_marketing
from insights.catalogue import TERM_DEPOSIT_ACTION, seed_actions
from insights.models import Action, ActionRule

DEFAULT_PATH = (
    Path(settings.BASE_DIR).parent / "shared" / "data" / "bank_marketing" / "bank-additional-full.csv"
)


class Command(BaseCommand):
    help = "Import the UCI bank marketing data: customers with attributes and one past call with its outcome."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(DEFAULT_PATH))
        parser.add_argument("--limit", type=int, default=None)

    def handle(self, *args, path, limit, **options):
        csv = Path(path)
        if not csv.exists():
            raise CommandError(f"{csv} does not exist")
        data = bank_marketing.read(csv, limit)
        numbers = [f"BANK-{i + 1:06d}" for i in range(len(data))]
        with transaction.atomic():
            seed_actions(Action, ActionRule, [TERM_DEPOSIT_ACTION])
            Customer.objects.bulk_create(_customers(numbers, data), batch_size=2000, ignore_conflicts=True)
            ids = dict(
                Customer.objects.filter(customer_number__in=numbers).values_list("customer_number", "pk")
            )
            new = timeline.record_many(_call_events(numbers, data, ids), announce=False)
        self.stdout.write(
            f"Imported {len(ids)} customers and {new} new call events (column 'duration' is not imported)."
        )


def _customers(numbers: list[str], data) -> list[Customer]:
    """One customer per bank client, with the client's columns as attributes."""
    attributes = bank_marketing.attributes_of(data)
    return [
        Customer(
            customer_number=number,
            first_name="Client",
            last_name=number,
            country="PT",
            phone=f"+3512{i:08d}",
            preferred_language="en",
            lifecycle=Customer.Lifecycle.CUSTOMER,
            created_at=moment - timedelta(days=365),
            attributes=attrs,
            search_key=f"client {number.lower()}",
        )
        for i, (number, moment, attrs) in enumerate(zip(numbers, data["contact_at"], attributes, strict=True))
    ]


def _call_events(numbers: list[str], data, ids: dict[str, int]):
    """The past term-deposit call of each client, with its outcome (the training label)."""
    source_type = ContentType.objects.get_for_model(Customer).id
    for number, moment, y in zip(numbers, data["contact_at"], data["y"], strict=True):
        outcome = "accepted" if y == "yes" else "declined"
        yield timeline.EventData(
            customer_id=ids[number],
            department="sales",
            kind=CALL_LOGGED.kind,
            title=f"Term deposit call: {outcome}",
            idempotency_key=timeline.idempotency_key("bank_marketing", number, "call"),
            occurred_at=moment,
            channel="phone",
            direction="outbound",
            actor_label="Bank marketing import",
            source_type_id=source_type,
            source_id=str(ids[number]),
            source_url=f"/customers/{ids[number]}/",
            payload={
                "activity_id": None,
                "outcome": outcome,
                "topic": bank_marketing.TOPIC,
                "campaign": "Term deposit",
            },
        )

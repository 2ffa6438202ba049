"""``manage.py seed_demo --customers N --seed S``: deterministic demo data for every department."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from customer360.demo import DEMO_PASSWORD, DEMO_USERS, run_seeders
from customer360.models import Customer, TimelineEvent


class Command(BaseCommand):
    help = "Create demo users (password 'demo') and customers with histories across all departments."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--today", help="reference date YYYY-MM-DD (default: today)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when customers exist")

    def handle(self, *args, customers, seed, today, if_empty, **options):
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        if customers < 5:
            raise CommandError("--customers must be at least 5")
        reference = parse_date(today) if today else None
        if today and reference is None:
            raise CommandError("--today must be YYYY-MM-DD")
        started = time.perf_counter()
        events_before = TimelineEvent.objects.count()
        run_seeders(count=customers, seed=seed, today=reference, stdout=self.stdout.write)
        elapsed = time.perf_counter() - started
        events = TimelineEvent.objects.count() - events_before
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {customers} customers and {events} timeline events in {elapsed:.1f} s "
                f"({events / elapsed if elapsed else 0:.0f} events/s)."
            )
        )
        self.stdout.write(f"Demo logins (password '{DEMO_PASSWORD}'): {', '.join(u[0] for u in DEMO_USERS)}")

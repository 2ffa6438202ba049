"""``manage.py seed_demo --customers N --seed S``: deterministic demo data for every department.

In production mode (C360_ENV=production) it refuses to run unless given ``--allow-production``;
even then the logins get a random password (printed once) and no staff admin is created."""

import secrets
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from customer360.audit import history
from customer360.demo import CHUNK, DEMO_PASSWORD, DEMO_USERS, run_seeders, vacuum
from customer360.models import Customer, TimelineEvent


class Command(BaseCommand):
    help = "Create demo users (password 'demo') and customers with histories across all departments."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=300)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--today", help="reference date YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK,
            help=f"customers per chunk of the streaming seed (default {CHUNK}); memory grows with it",
        )
        parser.add_argument("--if-empty", action="store_true", help="do nothing when customers exist")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="seed a production installation (demo logins get a random password, no admin login)",
        )

    def handle(self, *args, customers, seed, today, chunk, if_empty, allow_production, **options):
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "seed_demo refuses to run in production mode (C360_ENV=production): it would create "
                "logins with a known password. Pass --allow-production to seed anyway (random password, "
                "no admin login)."
            )
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo data already present; nothing to do.")
            return
        if customers < 5:
            raise CommandError("--customers must be at least 5")
        if chunk < 1:
            raise CommandError("--chunk must be at least 1")
        reference = parse_date(today) if today else None
        if today and reference is None:
            raise CommandError("--today must be YYYY-MM-DD")
        started = time.perf_counter()
        events_before = TimelineEvent.objects.count()
        password = secrets.token_urlsafe(12) if settings.PRODUCTION else DEMO_PASSWORD
        if history.enabled():
            self.stdout.write("Change history is switched off for the demo load (pgtrigger.ignore).")
        with history.paused():
            users = run_seeders(
                count=customers,
                seed=seed,
                today=reference,
                stdout=self.stdout.write,
                password=password,
                staff_admin=not settings.PRODUCTION,
                chunk=chunk,
            ).users
        vacuum(self.stdout.write)
        elapsed = time.perf_counter() - started
        events = TimelineEvent.objects.count() - events_before
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {customers} customers and {events} timeline events in {elapsed:.1f} s "
                f"({events / elapsed if elapsed else 0:.0f} events/s)."
            )
        )
        # Printed once, for the person running the command (logins that existed keep their password).
        self.stdout.write(
            f"Demo logins (password '{password}'): {', '.join(u[0] for u in DEMO_USERS if u[0] in users)}"
        )

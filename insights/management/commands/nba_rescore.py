"""``manage.py nba_rescore [--chunk N]``: rescore every customer in this process and print the time."""

import time

from django.core.management.base import BaseCommand

from customer360.models import Customer
from insights.services import scoring_run_inline


class Command(BaseCommand):
    help = "Rescore all customers in-process (the batch's chunks one after the other); prints the time."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=2000)

    def handle(self, *args, chunk, **options):
        started = time.perf_counter()
        run = scoring_run_inline(chunk_size=chunk)
        elapsed = time.perf_counter() - started
        run.job.refresh_from_db()
        self.stdout.write(
            f"Rescored {run.job.done} of {Customer.objects.count()} customers in {elapsed:.1f} s "
            f"({run.job.done / elapsed if elapsed else 0:.0f}/s)."
        )

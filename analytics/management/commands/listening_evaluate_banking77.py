"""Print the ticket-categorisation accuracy on banking77 (real customer messages, 77 intents).

Exits non-zero below the target, so CI can run it: ``manage.py listening_evaluate_banking77``.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from analytics.listening.categorise import BANKING77_TARGET, evaluate_files


def default_folder() -> Path:
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "banking77_support"


class Command(BaseCommand):
    help = "Train the ticket categoriser on banking77 train.csv and print its accuracy on test.csv."

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path, default=None, help="folder with train.csv and test.csv")
        parser.add_argument("--target", type=float, default=BANKING77_TARGET)

    def handle(self, *args, **options):
        folder = options["data"] or default_folder()
        train_csv, test_csv = folder / "train.csv", folder / "test.csv"
        if not train_csv.exists() or not test_csv.exists():
            raise CommandError(f"{folder} has no train.csv and test.csv")
        started = time.perf_counter()
        result = evaluate_files(train_csv, test_csv)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"banking77: accuracy {result.accuracy:.4f} on {result.test_rows} test messages "
            f"({result.labels} categories, trained on {result.train_rows}, {seconds:.1f} s); "
            f"target >= {options['target']:.2f}"
        )
        if result.accuracy < options["target"]:
            raise CommandError(f"accuracy {result.accuracy:.4f} is below the target {options['target']:.2f}")

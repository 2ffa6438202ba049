"""Import a file into a data source synchronously (bench, scripts, tests).

    manage.py import_file --source online-retail --file ../shared/data/online_retail/x.csv \
        [--target events] [--mapping mapping.json]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from customer360.models import DataSource
from customer360.sources import services
from customer360.sources.models import ImportRun


class Command(BaseCommand):
    help = "Import a CSV/.xlsx file into a data source with its saved (or a given) mapping."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="slug of the data source")
        parser.add_argument("--file", required=True)
        parser.add_argument("--target", default="", help="override the source's target")
        parser.add_argument(
            "--mapping", default="", help="JSON file with {'fields': [...], 'options': {...}}"
        )

    def handle(self, *args, source: str, file: str, target: str, mapping: str, **options):
        data_source = DataSource.objects.filter(slug=source).first()
        if data_source is None:
            raise CommandError(f"no data source {source!r}")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no file {file}")
        if target:
            data_source.target = target
            data_source.save(update_fields=["target"])
        spec = json.loads(Path(mapping).read_text()) if mapping else None
        if spec:
            data_source.mapping = {"fields": spec.get("fields", [])}
            data_source.options = spec.get("options", {})
            data_source.save(update_fields=["mapping", "options"])
        with path.open("rb") as handle:
            run = services.run_create(source=data_source, uploaded=File(handle, name=path.name))
        ImportRun.objects.filter(pk=run.pk).update(status=ImportRun.Status.RUNNING)
        run.refresh_from_db()
        started = time.perf_counter()
        run = services.run_execute(run=run)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"run {run.pk} {run.status} in {seconds:.1f} s: {run.total} rows, "
            + ", ".join(f"{k} {v}" for k, v in run.counts.items())
            + (f"; errors in {run.error_file.name}" if run.error_file else "")
            + (f"; {run.error}" if run.error else "")
        )

"""``manage.py bench``: seed (or reuse) 100k customers with ~2M events on PostgreSQL and print
server times, query counts and throughput figures of every registered benchmark."""

import random
import resource
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.module_loading import autodiscover_modules

from customer360 import bench_machine
from customer360.bench import BenchContext, benchmarks
from customer360.bench_figures import Figures
from customer360.models import Customer, TimelineEvent

#: ``--only seed_only``: seed (or reuse the seeded database) and run no benchmark.
SEED_ONLY = "seed_only"


class Command(BaseCommand):
    help = "Benchmarks on PostgreSQL: figures only (targets are reported as met or missed)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--only", nargs="*", help="benchmark keys to run")
        parser.add_argument(
            "--allow-sqlite", action="store_true", help="for a quick look; figures mean little"
        )
        parser.add_argument(
            "--save", help="where to keep this run's figures (default var/bench-<customers>.json)"
        )
        parser.add_argument("--compare", help="another run's figures file: print each figure's growth factor")

    def handle(self, *args, customers, seed, only, allow_sqlite, save, compare, **options):
        figures = Figures(customers)
        if not settings.IS_POSTGRES and not allow_sqlite:
            raise CommandError("bench needs PostgreSQL: set DATABASE_URL=postgres://... (see README)")
        autodiscover_modules("bench")
        unknown = sorted(set(only or ()) - set(benchmarks.items) - {SEED_ONLY})
        if unknown:
            raise CommandError(
                f"no benchmark {', '.join(unknown)}; the benchmarks are: {', '.join(sorted(benchmarks.items))}"
            )
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"machine: {bench_machine.description()}")
        self._machine_speed("before", figures)
        if benchmarks.need_seed(only):
            self._seed(customers, seed, figures)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            user = get_user_model().objects.get(username="rep")
        else:
            self.stdout.write("Only benchmarks that build their own data: no seed.")
            user = None
        ctx = BenchContext(customers=customers, seed=seed, rng=random.Random(seed), user=user)
        self._remove_bench_sources("left by an earlier run")
        for key, fn in benchmarks.ordered():
            if only and key not in only:
                continue
            self.stdout.write(f"[{key}]")
            for line in fn(ctx):
                self.stdout.write(f"  {line}")
                figures.add_line(key, line)
            self._remove_bench_sources("of this benchmark")
        self._machine_speed("after", figures)
        target = Path(save) if save else settings.VAR_DIR / f"bench-{customers}.json"
        figures.save(target)
        self.stdout.write(f"Figures kept in {target}.")
        if compare:
            for line in figures.growth(Path(compare)):
                self.stdout.write(line)

    def _machine_speed(self, when: str, figures: Figures) -> None:
        seconds = bench_machine.speed()
        self.stdout.write(bench_machine.speed_line(when, seconds))
        for part, value in seconds.items():
            figures.add(f"machine speed {when}: {part}", "s", value)

    def _remove_bench_sources(self, whose: str) -> None:
        """What the import benchmarks wrote goes again, so that no later figure measures it."""
        from customer360.sources.bench import remove_bench_sources

        started = time.perf_counter()
        removed = remove_bench_sources()
        if removed["sources"]:
            self.stdout.write(
                f"  removed the bench sources {whose}: {removed['sources']} sources, "
                f"{removed['customers']:,} customers with their records ({time.perf_counter() - started:.1f} s)"
            )

    def _seed(self, customers: int, seed: int, figures: Figures) -> None:
        existing = Customer.objects.count()
        if existing >= customers:
            self.stdout.write(
                f"Reusing {existing} customers and about {TimelineEvent.objects.count()} events."
            )
            return
        if existing:
            raise CommandError(
                f"the database holds {existing} customers; use an empty one or --customers {existing}"
            )
        self.stdout.write(f"Seeding {customers} customers (seed {seed}) ...")
        started = time.perf_counter()
        call_command("seed_demo", customers=customers, seed=seed)
        elapsed = time.perf_counter() - started
        events = TimelineEvent.objects.count()
        peak_mb = _peak_memory_mb()
        self.stdout.write(
            f"seed_demo: {customers} customers, {events} events in {elapsed:.0f} s, peak memory "
            f"{peak_mb:,.0f} MB (targets at 1M: <= 1800 s, <= 4096 MB)"
        )
        figures.add("seed_demo: time", "s", elapsed)
        figures.add("seed_demo: peak memory", "MB", peak_mb)


def _peak_memory_mb() -> float:
    """The largest resident size of this process or a finished child (Linux reports KiB), plus
    the peaks of the seed's lanes, which ran at the same time (an upper bound: their peaks need not
    coincide, and pages shared since the fork count in each)."""
    from customer360 import demo_lanes

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lanes = sum(demo_lanes.last_peaks_mb.values())
    if lanes:
        return own + lanes
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)

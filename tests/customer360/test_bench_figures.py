"""The bench keeps its figures and prints growth factors against another run (issue #18)."""

import json

import pytest

from customer360.bench import format_timing
from customer360.bench_figures import Figures, figure


def test_each_kind_of_bench_line_gives_its_figure():
    timing = {"n": 60, "p50": 20.0, "p95": 48.5, "max_queries": 12, "statuses": [200]}
    assert figure("core.pages", format_timing("360 page", timing, 150)) == (
        "core.pages: 360 page",
        "p95 ms",
        48.5,
    )
    api = (
        "bulk API                           50000 events in 1.7 s = 29,412 events/s  target >= 25,000/s: met"
    )
    assert figure("sources.ingestion", api) == ("sources.ingestion: bulk API", "per s", 29412.0)
    rescoring = "full rescoring                     103,040 customers in 41.9 s (2,459 customers/s)"
    assert figure("nba.rescoring", rescoring) == ("nba.rescoring: full rescoring", "per s", 2459.0)
    latency = "event -> rec. while rescoring all  n=40   p50= 0.71 s  p95= 1.84 s  max= 2.10 s  target p95 <= 2 s: met"
    assert figure("nba.rescoring", latency) == (
        "nba.rescoring: event -> rec. while rescoring all",
        "p95 s",
        1.84,
    )
    assert figure("x", "0032 swap under lock               0.12 s (catalogue only)") is None
    assert figure("x", "duplicate scan  103,040 customers in 4.1 s, 11 pairs") == (
        "x: duplicate scan",
        "s",
        4.1,
    )


def test_growth_factors_compare_the_figures_both_runs_have(tmp_path):
    small = Figures(100_000)
    small.add("core.pages: 360 page", "p95 ms", 50.0)
    small.add("seed_demo: time", "s", 400.0)
    small.add("only in the small run", "s", 1.0)
    small.save(tmp_path / "bench-100000.json")
    big = Figures(1_000_000)
    big.add("core.pages: 360 page", "p95 ms", 65.0)
    big.add("seed_demo: time", "s", 1600.0)
    big.add("only in the big run", "s", 2.0)
    lines = big.growth(tmp_path / "bench-100000.json")
    assert lines[0] == "growth from 100,000 to 1,000,000 customers (bench-100000.json):"
    assert len(lines) == 3
    assert lines[1].split()[-1] == "x1.30" and "360 page" in lines[1]
    assert lines[2].split()[-1] == "x4.00" and "seed_demo: time" in lines[2]


def test_a_run_of_only_self_contained_benchmarks_needs_no_seed():
    """`bench --only core.timeline_migration --customers 1000000` builds its own scratch database:
    it must not seed a million customers first."""
    from django.utils.module_loading import autodiscover_modules

    from customer360.bench import benchmarks

    autodiscover_modules("bench")
    assert "core.timeline_migration" in benchmarks.unseeded
    assert not benchmarks.need_seed(["core.timeline_migration"])
    assert benchmarks.need_seed(["core.timeline_migration", "core.pages"])
    assert benchmarks.need_seed(None) and benchmarks.need_seed([])


@pytest.mark.django_db
def test_bench_samples_the_same_customers_for_the_same_seed():
    """Two runs on the same data measure the same customers (their figures compare)."""
    import random

    from customer360.bench import sample_customer_ids
    from tests.factories import CustomerFactory

    made = [CustomerFactory().pk for _ in range(30)]
    first = sample_customer_ids(random.Random(42), 10)
    assert first == sample_customer_ids(random.Random(42), 10)
    assert len(first) == len(set(first)) == 10 and set(first) <= set(made)
    assert sample_customer_ids(random.Random(1), 10) != first


@pytest.mark.django_db
def test_the_bench_samples_no_nameless_customer_its_own_imports_added(rep):
    """The bulk API and the CSV import of a bench run add customers without a name: a later run
    samples the same named customers as before them (60 empty typeahead queries measured nothing)."""
    import random

    from customer360.bench import named_customer_ids, sample_customer_ids
    from tests.factories import CustomerFactory

    named = [CustomerFactory(owner=rep).pk for _ in range(30)]
    before = sample_customer_ids(random.Random(42), 10)
    first_ids = list(named_customer_ids(rep, n=5))
    for _ in range(40):
        CustomerFactory(first_name="", last_name="", owner=rep)
    assert sample_customer_ids(random.Random(42), 10) == before
    assert list(named_customer_ids(rep, n=5)) == first_ids == sorted(named)[:5]


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Processor @ 2.80GHz
flags\t\t: fpu vme

processor\t: 1
model name\t: Another CPU
"""


def test_the_bench_names_the_cpu_with_its_family_and_model():
    from customer360.bench_machine import cpu_model

    assert cpu_model(CPUINFO) == "Intel(R) Xeon(R) Processor @ 2.80GHz, family 6 model 106"
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC\n") == "AMD EPYC"
    assert cpu_model("") == "unknown"


@pytest.mark.django_db
def test_a_bench_run_keeps_the_machines_speed_before_and_after_its_benchmarks(tmp_path, monkeypatch):
    from django.core.management import call_command

    from customer360 import bench_machine
    from customer360.bench import benchmarks

    monkeypatch.setattr(bench_machine, "PYTHON_STEPS", 1_000)
    monkeypatch.setattr(bench_machine, "DATABASE_ROWS", 1_000)
    monkeypatch.setattr(benchmarks, "items", {**benchmarks.items})
    monkeypatch.setattr(benchmarks, "unseeded", {*benchmarks.unseeded})
    benchmarks.register("test.nothing", seeded=False)(lambda ctx: ["a line without a figure"])
    out = tmp_path / "figures.json"
    call_command("bench", "--allow-sqlite", "--only", "test.nothing", "--save", str(out))

    saved = json.loads(out.read_text())["figures"]
    assert set(saved) == {
        "machine speed before: python",
        "machine speed before: database",
        "machine speed after: python",
        "machine speed after: database",
    }
    assert all(0 < figure["value"] < 1 and figure["unit"] == "s" for figure in saved.values())


def test_a_benchmark_key_that_does_not_exist_is_refused_before_anything_runs():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"no benchmark core\.page; the benchmarks are: .*core\.pages"):
        call_command("bench", "--allow-sqlite", "--only", "core.page", "seed_only")

"""The timeline's partitioning migration at scale (issue #18), for ``manage.py bench``: a scratch
database holding a plain timeline (migration 0030) with 20 events per bench customer (20M for the
1M bench), then migrations 0031 (the keys) and 0032 (the partitions), phase by phase. The scratch
database is dropped afterwards."""

from __future__ import annotations

import time

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections

from customer360 import partitions

EVENTS_PER_CUSTOMER = 20
ALIAS = "bench_migration"


def _fill(events: int, owners: int) -> None:
    """``owners`` customers and ``events`` events on the plain timeline, indexes built afterwards
    (as a grown installation has them), spread over the last four years."""
    from customer360.models import Customer

    Customer.objects.using(ALIAS).bulk_create(
        (Customer(customer_number=f"M-{n:07d}", last_name=f"Bench {n}") for n in range(owners)),
        batch_size=5000,
    )
    with connections[ALIAS].cursor() as cursor:
        indexes = partitions._indexes(cursor, partitions.TABLE)
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute(
            f"INSERT INTO {partitions.TABLE} (customer_id, occurred_at, recorded_at, department, kind, channel, "  # noqa: S608
            "direction, title, summary, actor_label, source_id, source_url, payload, audience, idempotency_key) "
            "SELECT c.ids[1 + g %% c.n], now() - (g %% 1461) * interval '1 day', now(), 'sales', 'core.note', "
            "'other', 'internal', 'Bench event', '', '', '', '', '{}', '', 'bench:' || g "
            "FROM generate_series(1, %s) g, "
            "(SELECT array_agg(id) AS ids, count(*)::int AS n FROM customer360_customer) c",
            [events],
        )
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute(f"VACUUM ANALYZE {partitions.TABLE}")


def bench_timeline_migration(ctx) -> list[str]:
    events = EVENTS_PER_CUSTOMER * ctx.customers
    base = connections[DEFAULT_DB_ALIAS].settings_dict
    name = f"{base['NAME']}_migration"[:63]
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connections.settings[ALIAS] = {**base, "NAME": name}
    try:
        call_command("migrate", database=ALIAS, verbosity=0)
        call_command("migrate", "customer360", "0030", database=ALIAS, verbosity=0)
        started = time.perf_counter()
        _fill(events, max(1000, ctx.customers // 20))
        fill = time.perf_counter() - started
        started = time.perf_counter()
        call_command("migrate", "customer360", "0031", database=ALIAS, verbosity=0)
        keys = time.perf_counter() - started
        timings: dict[str, float] = {}
        partitions.partition_timeline(using=ALIAS, timings=timings)
        call_command("migrate", "customer360", database=ALIAS, verbosity=0)  # records 0032 (done above)
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {partitions.TABLE}")  # noqa: S608
            (counted,) = cursor.fetchone()
            cursor.execute(f"SELECT count(*) FROM {partitions.KEYS}")  # noqa: S608
            (keyed,) = cursor.fetchone()
            layout = [row[0].removeprefix(partitions.TABLE + "_") for row in partitions.partitions(ALIAS)]
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.settings[ALIAS]
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    total = keys + sum(timings.values())
    return [
        f"plain timeline of {events:,} events built in {fill:.0f} s (not part of the migration)",
        f"0031 keys copied                   {keys:.1f} s (writers wait, readers do not)",
        f"0032 unique (id, occurred_at)      {timings['unique_index']:.1f} s (CONCURRENTLY: nobody waits)",
        f"0032 range check validated         {timings['range_check']:.1f} s (nobody waits)",
        f"0032 swap under lock               {timings['swap']:.2f} s (catalogue only)",
        f"migration in all                   {total:.0f} s; {counted:,} events, {keyed:,} keys; "
        f"partitions: {', '.join(layout)}"
        f"  {'ok' if counted == keyed == events else 'FAILED: rows lost or doubled'}",
    ]

"""The timeline partitioned by time on PostgreSQL (issue #18).

``customer360_timelineevent`` is a table partitioned by RANGE of ``occurred_at``:

* ``customer360_timelineevent_history``: everything before the first yearly boundary. On an
  installation that had a plain table, this IS that table, attached as it was (no row copied:
  the conversion below runs at 20M events with one short lock); a new installation's history
  partition ends ``FRESH_YEARS_BACK`` years ago, and yearly partitions follow;
* ``customer360_timelineevent_y2027``, ``..._y2028``: one partition per calendar year (UTC), created
  ahead of time by the beat task ``customer360.tasks.ensure_timeline_partitions``;
* ``customer360_timelineevent_default``: what falls outside every partition (an event dated years
  ahead). When a partition for its year is created, its rows move there.

Yearly, not monthly: the pages read one customer's events across all time (the 360 page, load
more), and every partition is one more index probe per read; a year keeps that to a handful while a
partition stays small enough to vacuum, index and drop on its own.

The primary key is (id, occurred_at) in the database (a partitioned table's unique keys must contain
the partition column); Django keeps ``id`` as the key, and ids come from one sequence. Idempotency
keys are unique in ``TimelineEventKey`` instead (customer360/event_key_models.py).

SQLite (embedded mode) keeps a plain table; everything here is a no-op there.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction

TABLE = "customer360_timelineevent"
HISTORY = f"{TABLE}_history"
DEFAULT = f"{TABLE}_default"
SEQUENCE = f"{TABLE}_id_seq"
KEYS = "customer360_timelineeventkey"
#: Partitions exist this many years ahead of the current one.
YEARS_AHEAD = 1
#: A new installation starts with yearly partitions from this many years back.
FRESH_YEARS_BACK = 5

_KEYS_GONE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION c360_event_keys_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {KEYS} k USING gone g WHERE k.idempotency_key = g.idempotency_key AND k.event_id = g.id;
    RETURN NULL;
END $$
"""  # noqa: S608 (table names are constants)


def year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def partition_name(year: int) -> str:
    return f"{TABLE}_y{year}"


def is_partitioned(cursor) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
    row = cursor.fetchone()
    return bool(row) and row[0] == "p"


# --- the delete trigger (both databases) ----------------------------------------------------------
def add_keys_gone_trigger(cursor, vendor: str, table: str = TABLE) -> None:
    """Deleting an event deletes its key (one statement-level trigger with the deleted rows)."""
    if vendor == "postgresql":
        cursor.execute(_KEYS_GONE_FUNCTION)
        cursor.execute(f"DROP TRIGGER IF EXISTS c360_event_keys_gone ON {table}")
        cursor.execute(
            f"CREATE TRIGGER c360_event_keys_gone AFTER DELETE ON {table} REFERENCING OLD TABLE AS gone "
            "FOR EACH STATEMENT EXECUTE FUNCTION c360_event_keys_gone()"
        )
    else:
        cursor.execute("DROP TRIGGER IF EXISTS c360_event_keys_gone")
        cursor.execute(
            f"CREATE TRIGGER c360_event_keys_gone AFTER DELETE ON {table} FOR EACH ROW BEGIN "  # noqa: S608
            f"DELETE FROM {KEYS} WHERE idempotency_key = OLD.idempotency_key AND event_id = OLD.id; END"
        )


def drop_keys_gone_trigger(cursor, vendor: str, table: str = TABLE) -> None:
    if vendor == "postgresql":
        cursor.execute(f"DROP TRIGGER IF EXISTS c360_event_keys_gone ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS c360_event_keys_gone()")
    else:
        cursor.execute("DROP TRIGGER IF EXISTS c360_event_keys_gone")


# --- converting a plain table (the migration) ------------------------------------------------------
def _indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that are not a constraint's."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname",
        [table],
    )
    return cursor.fetchall()


def _foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype = 'f' ORDER BY conname",
        [table],
    )
    return cursor.fetchall()


def _on_table(definition: str, old_name: str, new_name: str, table: str) -> str:
    """An index definition of another table, re-targeted: ``CREATE INDEX new_name ON table ...``."""
    return re.sub(
        rf"^CREATE (UNIQUE )?INDEX {re.escape(old_name)} ON (?:ONLY )?\S+ ",
        lambda m: f"CREATE {m.group(1) or ''}INDEX {new_name} ON {table} ",
        definition,
    )


def partition_timeline(
    now: datetime | None = None, *, using: str = DEFAULT_DB_ALIAS, timings: dict | None = None
) -> bool:
    """Turn the plain timeline into a partitioned one; return False when there is nothing to do.

    Runs outside a transaction (the migration is ``atomic = False``): the two scans of the big table
    (a unique index on (id, occurred_at) built CONCURRENTLY and a CHECK validated) let reads and
    writes go on; only the swap at the end takes a lock, for catalogue changes only. ``timings``,
    when given, receives the seconds of each phase (the benchmark prints them).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    now = now or datetime.now(UTC)
    timings = {} if timings is None else timings
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if is_partitioned(cursor):
            return False
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('c360_event_id_occurred')"
        )
        row = cursor.fetchone()
        if row is not None and not row[0]:  # a build that was interrupted
            cursor.execute("DROP INDEX CONCURRENTLY c360_event_id_occurred")
        cursor.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS c360_event_id_occurred ON {TABLE} (id, occurred_at)"
        )
        timings["unique_index"] = time.perf_counter() - started
        cursor.execute(f"SELECT max(occurred_at) FROM {TABLE}")  # noqa: S608
        newest = cursor.fetchone()[0]
        # A grown table becomes the history partition as it is; an empty one (a new installation)
        # gets yearly partitions for the years its imported history will most likely cover.
        first_year = now.year - FRESH_YEARS_BACK if newest is None else max(now.year, newest.year) + 1
        bound = year_start(first_year)
        cursor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS c360_event_history_range")
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT c360_event_history_range CHECK (occurred_at < %s) NOT VALID",
            [bound],
        )
        cursor.execute(f"ALTER TABLE {TABLE} VALIDATE CONSTRAINT c360_event_history_range")
        timings["range_check"] = time.perf_counter() - started - timings["unique_index"]
    swap_started = time.perf_counter()
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _swap(cursor, bound)
        ensure_partitions(cursor, now=now, first_year=first_year)
    timings["swap"] = time.perf_counter() - swap_started
    return True


def _swap(cursor, bound: datetime) -> None:
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    (identity,) = cursor.fetchone()
    cursor.execute(f"SELECT last_value, is_called FROM {identity}")  # noqa: S608
    last_value, is_called = cursor.fetchone()
    indexes = [(name, sql) for name, sql in _indexes(cursor, TABLE) if name != "c360_event_id_occurred"]
    foreign_keys = _foreign_keys(cursor, TABLE)
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP IDENTITY IF EXISTS")
    cursor.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint")
    cursor.execute("SELECT setval(%s, %s, %s)", [SEQUENCE, last_value, is_called])
    cursor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {TABLE}_pkey")
    cursor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {HISTORY}_pkey PRIMARY KEY USING INDEX c360_event_id_occurred"
    )
    for name, _definition in indexes:
        cursor.execute(f"ALTER INDEX {name} RENAME TO {name}_h")
    drop_keys_gone_trigger(cursor, "postgresql")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {HISTORY}")
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {HISTORY} INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)"
    )
    cursor.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {TABLE}.id")
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')")
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, occurred_at)")
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
    for name, definition in indexes:
        cursor.execute(_on_table(definition, name, name, TABLE))
    # The CHECK proves the range, so attaching scans nothing; the indexes, key and foreign keys of
    # the old table match the new ones' definitions and are attached as they are.
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {HISTORY} FOR VALUES FROM (MINVALUE) TO (%s)", [bound]
    )
    cursor.execute(f"ALTER TABLE {HISTORY} DROP CONSTRAINT c360_event_history_range")
    cursor.execute(f"CREATE TABLE {DEFAULT} PARTITION OF {TABLE} DEFAULT")
    add_keys_gone_trigger(cursor, "postgresql")


# --- keeping partitions ahead of time (the beat task) ----------------------------------------------
def _history_bound_year(cursor) -> int:
    cursor.execute(
        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = to_regclass(%s)", [HISTORY]
    )
    row = cursor.fetchone()
    match = re.search(r"TO \('(\d{4})-", row[0] if row else "")
    if match is None:
        raise RuntimeError(f"{HISTORY} is not a partition of {TABLE}")
    return int(match.group(1))


def ensure_partitions(
    cursor=None, *, now: datetime | None = None, first_year: int | None = None
) -> list[str]:
    """Create the yearly partitions up to ``YEARS_AHEAD`` years after ``now``; rows of those years
    that the default partition holds move into them. Returns the partitions created."""
    if cursor is None:
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor != "postgresql":
            return []
        with transaction.atomic(), connection.cursor() as cursor:
            return ensure_partitions(cursor, now=now, first_year=first_year)
    if not is_partitioned(cursor):
        return []
    now = now or datetime.now(UTC)
    first_year = first_year or _history_bound_year(cursor)
    created = []
    for year in range(first_year, now.year + YEARS_AHEAD + 1):
        name = partition_name(year)
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            continue
        _create_partition(cursor, name, year_start(year), year_start(year + 1))
        created.append(name)
    return created


def _create_partition(cursor, name: str, start: datetime, end: datetime) -> None:
    cursor.execute(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} WHERE occurred_at >= %s AND occurred_at < %s)",  # noqa: S608
        [start, end],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)", [start, end])
        return
    # Rows of that year wait in the default partition: move them (statements on the partitions
    # themselves, so the key trigger, which is on the parent, does not fire).
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE occurred_at >= %s AND occurred_at < %s RETURNING *) "  # noqa: S608
        f"INSERT INTO {name} SELECT * FROM moved",
        [start, end],
    )
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])


def partitions(using: str = DEFAULT_DB_ALIAS) -> list[tuple[str, str, int]]:
    """(name, bound, estimated rows) of every partition, for the operator's view and tests."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [TABLE],
        )
        return cursor.fetchall()


# --- back to a plain table (the migration's reverse) -----------------------------------------------
def unpartition_timeline(*, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Copy every event into one plain table again (the reverse migration; it copies every row)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if not is_partitioned(cursor):
            return False
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        indexes = _indexes(cursor, TABLE)
        foreign_keys = _foreign_keys(cursor, TABLE)
        cursor.execute(f"CREATE TABLE {TABLE}_plain (LIKE {TABLE})")
        cursor.execute(f"INSERT INTO {TABLE}_plain SELECT * FROM {TABLE}")  # noqa: S608
        cursor.execute(f"SELECT last_value, is_called FROM {SEQUENCE}")  # noqa: S608
        last_value, is_called = cursor.fetchone()
        cursor.execute(f"DROP TABLE {TABLE} CASCADE")  # its partitions and sequence go with it
        cursor.execute(f"ALTER TABLE {TABLE}_plain RENAME TO {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        cursor.execute("SELECT setval(%s, %s, %s)", [cursor.fetchone()[0], last_value, is_called])
        cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id)")
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} {definition}")
        for name, definition in indexes:
            cursor.execute(_on_table(definition, name, name, TABLE))
        add_keys_gone_trigger(cursor, "postgresql")
    return True

"""Fast bulk inserts of model rows: COPY on PostgreSQL, ``bulk_create`` elsewhere.

For demo data and imports of many rows where the caller does not need the new primary keys
back (re-read them by a natural key when needed). Field defaults, ``auto_now`` and JSON
adaptation work as for ``save()``; no signals are sent, as with ``bulk_create``.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from operator import attrgetter

from django.db import connection, models, transaction
from django.db.models.base import ModelState

from customer360 import bulk_rebuild
from customer360.audit import history

BATCH = 5000
logger = logging.getLogger(__name__)


@contextmanager
def gc_paused():
    """Bulk work (an import chunk, a 10,000-record API request) makes millions of small objects
    that live until the batch ends; Python's cyclic collector would scan them again and again (it
    doubled the mapping time of an import). Reference counting still frees everything; the
    collector resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def commit_without_flush_wait() -> None:
    """The current transaction's commit returns before its WAL is on disk (PostgreSQL's
    ``synchronous_commit = off``, for this transaction only). For work that keeps its own
    checkpoint in the same transaction (an import chunk): a server crash can lose at most the last
    fraction of a second of commits, rows and checkpoint together, and the work is redone from the
    checkpoint. Never for anything a user was told is saved. A no-op elsewhere."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def vacuum_analyze(*models_: type[models.Model]) -> list[str]:
    """``VACUUM (ANALYZE)`` the tables of ``models_`` after a batch rewrote most of their rows, on
    PostgreSQL and outside a transaction (elsewhere, or inside one, even one begun without
    ``atomic``, nothing); the tables vacuumed.

    Until vacuumed, a rewritten table keeps every old row version, and an index-only scan reads the
    table again for each entry: after a full rescoring of 1,000,000 customers the scores held 6.3M
    dead rows, and the customer list filtered by a risk took 0.25-0.66 s instead of 0.1 s.
    Autovacuum gets there in its own time, or never where it is switched off."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        return []
    tables = [model._meta.db_table for model in models_]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
    return tables


@functools.cache
def instance_maker(model: type[models.Model]):
    """``make(**values)``: an unsaved ``model`` instance, as ``model(**values)`` builds it, at a
    fraction of the cost (the demo seed builds hundreds of thousands). The defaults are taken from
    one instance built once; callable defaults (``timezone.now``) are called per instance unless
    given; one maker per model. ``values`` name concrete fields: attribute names (``customer_id``)
    or, for a foreign key, the field's name with the related object (``product=...``), which is
    kept as for ``model(product=...)``. No ``pre_init``/``post_init`` signals are sent."""
    prototype = model()
    fixed = {name: value for name, value in prototype.__dict__.items() if name != "_state"}
    fields = model._meta.concrete_fields
    called = [(f.attname, f.get_default) for f in fields if f.has_default() and callable(f.default)]
    names = frozenset(f.attname for f in fields)
    relations = {f.name: f for f in fields if f.is_relation and f.name != f.attname}
    new, state = model.__new__, ModelState

    def make(**values):
        related = None
        if not names.issuperset(values):
            values, related = _related_values(model, values, names, relations)
        obj = new(model)
        attributes = obj.__dict__
        # _state first, then the fields: the order Model.__init__ sets them in, so the instance
        # keeps the class's shared-key dict (less than half the memory of a dict of its own).
        attributes["_state"] = state()
        attributes.update(fixed)
        for name, default in called:
            if name not in values:
                attributes[name] = default()
        attributes.update(values)
        if related:
            obj._state.fields_cache.update(related)
        return obj

    return make


def _related_values(model, values: dict, names: frozenset, relations: dict) -> tuple[dict, dict]:
    """``values`` with related objects replaced by their keys, and those objects by field name."""
    plain, related = {}, {}
    for name, value in values.items():
        if name in names:
            plain[name] = value
        elif name in relations:
            field = relations[name]
            plain[field.attname] = None if value is None else getattr(value, field.target_field.attname)
            related[name] = value
        else:
            raise TypeError(f"{model.__name__} has no field {name!r}")
    return plain, related


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and isinstance(f, models.AutoField | models.BigAutoField))
    ]


def _converters(fields: list[models.Field]) -> list:
    """Per column: how to read the value from an object. Most values go to COPY as they are;
    only JSON needs adapting and auto_now fields need their timestamp."""
    converters = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            converters.append(lambda obj, f=f: f.pre_save(obj, add=True))
        elif isinstance(f, models.JSONField):
            converters.append(lambda obj, f=f: f.get_db_prep_save(getattr(obj, f.attname), connection))
        else:
            converters.append(lambda obj, name=f.attname: getattr(obj, name))
    return converters


def _row_maker(fields: list[models.Field]):
    """``row(obj)``: the values of ``fields`` as COPY takes them. Plain attributes are read in one
    go (``attrgetter``); only JSON and auto_now columns go through their converter, in column order."""
    converters = _converters(fields)
    special = [
        (i, converter)
        for i, (f, converter) in enumerate(zip(fields, converters, strict=True))
        if getattr(f, "auto_now", False)
        or getattr(f, "auto_now_add", False)
        or isinstance(f, models.JSONField)
    ]
    names = [f.attname for f in fields]
    getter = attrgetter(*names)
    if len(names) == 1:
        return lambda obj: [getter(obj)] if not special else [c(obj) for c in converters]
    if not special:
        return getter
    if len(special) * 2 > len(fields):  # mostly converted columns: as before
        return lambda obj: [c(obj) for c in converters]

    def row(obj) -> list:
        values = list(getter(obj))
        for i, converter in special:
            values[i] = converter(obj)
        return values

    return row


#: (table whose column types the rows follow, columns) whose rows did not fit PostgreSQL's binary
#: format once: they are copied as text from then on (for the life of the process)
_TEXT_ONLY: set[tuple[str, tuple[str, ...]]] = set()
#: (table, columns) -> the columns' type oids, or None when one has no binary form
_BINARY_TYPES: dict[tuple[str, tuple[str, ...]], tuple[int, ...] | None] = {}
#: rows from which a COPY goes in binary
BINARY_FROM = 200


class _Unfit(Exception):
    """A value has no binary form for its column (an int for a text column): copy as text."""


class _Stale(Exception):
    """The server read the binary rows as other types than those sent: a column changed type."""


def copy_in(cursor, table: str, columns: list[str], rows: Iterable, *, types_of: str | None = None) -> None:
    """COPY ``rows`` (sequences of values for ``columns``, column names) into ``table``.

    In PostgreSQL's binary format where every column's type has one: the client neither formats
    timestamps and numbers as text nor does the server parse them (2.7 times less client CPU for a
    timeline row; the demo seed writes twenty million). A value that does not fit its column's
    binary form (an int for a text column, which text COPY takes as its digits) makes this COPY run
    again as text, in a savepoint, and the table's later COPYs start as text: the outcome is the
    same as a text COPY's, errors from the database included. A ``str`` for a JSON column is JSON
    text, as in text COPY. ``types_of`` names the table whose column types the rows follow when
    ``table`` is a temporary copy of it. ``cursor`` is Django's cursor."""
    rows = rows if isinstance(rows, list) else list(rows)
    key = (types_of or table, tuple(columns))
    # A few rows (one customer's rescoring) are cheap either way: as text, without the savepoint.
    binary = len(rows) >= BINARY_FROM and key not in _TEXT_ONLY
    types = _binary_types(cursor, key) if binary else None
    if types is not None:
        try:
            with transaction.atomic(using=cursor.db.alias):
                _copy_rows(cursor, table, columns, rows, types)
            return
        except _Stale:
            _BINARY_TYPES.pop(key, None)  # a migration changed a column's type: read them again
        except _Unfit as unfit:
            _TEXT_ONLY.add(key)
            # The table and the kind of mismatch, never a value (it may be personal data).
            logger.info("COPY into %s goes as text: %s", key[0], type(unfit.__cause__).__name__)
    _copy_rows(cursor, table, columns, rows, None)


def _copy_rows(cursor, table: str, columns: list[str], rows: list, types: tuple[int, ...] | None) -> None:
    quote = connection.ops.quote_name
    statement = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    if types is None:
        with cursor.cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    from psycopg import Error
    from psycopg.errors import InvalidBinaryRepresentation

    cursor.cursor.adapters.register_dumper(None, _json_text_dumper())
    try:
        with cursor.cursor.copy(statement + " (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                try:
                    copy.write_row(row)
                except Error as error:
                    if error.sqlstate:  # the database's own verdict (a unique key): as with text
                        raise
                    raise _Unfit from error
                except (TypeError, ValueError, OverflowError) as error:
                    raise _Unfit from error
    except InvalidBinaryRepresentation as error:  # the types read before are not the table's now
        raise _Stale from error


@functools.cache
def _json_text_dumper():
    """jsonb's binary dumper, except that a ``str`` is taken as JSON text (as text COPY takes it),
    not dumped again as a JSON string."""
    from psycopg.types.json import JsonbBinaryDumper

    class JsonTextBinaryDumper(JsonbBinaryDumper):
        def dump(self, obj):
            if isinstance(obj, str):
                return b"\x01" + obj.encode()
            return super().dump(obj)

    return JsonTextBinaryDumper


def _binary_types(cursor, key: tuple[str, tuple[str, ...]]) -> tuple[int, ...] | None:
    """The type oids of ``key``'s columns when psycopg can write each of them in binary."""
    if key not in _BINARY_TYPES:
        from psycopg.pq import Format

        table, columns = key
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped",
            [connection.ops.quote_name(table)],
        )
        oids = dict(cursor.fetchall())
        adapters = cursor.cursor.adapters
        types = []
        for column in columns:
            oid = oids.get(column)
            try:
                adapters.get_dumper_by_oid(oid, Format.BINARY)
            except Exception:  # no binary form (or an unknown column): text
                types = None
                break
            types.append(oid)
        _BINARY_TYPES[key] = tuple(types) if types is not None else None
    return _BINARY_TYPES[key]


def draw_ids(cursor, table: str, column: str, count: int) -> list[int]:
    """``count`` new values of the sequence behind ``table.column`` (PostgreSQL). The sequence is
    looked up once: asked per row, pg_get_serial_sequence took 30 of the 33 ms for 5,000 ids."""
    cursor.execute(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
        "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
        [table, column, count],
    )
    return [value for (value,) in cursor.fetchall()]


def _assign_ids(model: type[models.Model], objs: list[models.Model]) -> None:
    """Take primary keys from the table's sequence up front, so related rows can point at them."""
    with connection.cursor() as cursor:
        ids = draw_ids(cursor, model._meta.db_table, model._meta.pk.column, len(objs))
    for obj, value in zip(objs, ids, strict=True):
        obj.pk = value


def bulk_insert(
    objs: Iterable[models.Model],
    *,
    ignore_conflicts: bool = False,
    with_ids: bool = False,
    rare_conflicts: bool = False,
) -> None:
    """Insert ``objs`` (all of one model). With ``ignore_conflicts`` rows that break a unique
    constraint are skipped, as with ``bulk_create(ignore_conflicts=True)``; ``rare_conflicts`` tells
    that most loads will have none (see :func:`_copy`). With ``with_ids`` every object gets its
    primary key set (needed when other rows refer to it)."""
    objs = list(objs)
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=BATCH // 2, ignore_conflicts=ignore_conflicts)
        return
    fields = _columns(model)
    if with_ids:
        if ignore_conflicts:
            raise ValueError(
                "with_ids and ignore_conflicts cannot be combined: skipped rows would keep an id"
            )
        _assign_ids(model, objs)
        fields = [model._meta.pk, *fields]
    rows = map(_row_maker(fields), objs)
    # A unique key refusing a row is Django's IntegrityError, as with bulk_create (callers retry it).
    with connection.wrap_database_errors:
        _copy(model, [f.column for f in fields], rows, ignore_conflicts, rare_conflicts)


def _copy(
    model: type[models.Model],
    columns: list[str],
    rows: Iterable,
    ignore_conflicts: bool,
    rare_conflicts: bool = False,
) -> None:
    """COPY ``rows`` into the table; with ``ignore_conflicts`` through a temporary table and one
    ``INSERT ... ON CONFLICT DO NOTHING``. With ``rare_conflicts`` as well, a plain COPY is tried
    first, in a savepoint: when no unique key refuses a row (a demo seed into a fresh database),
    the rows are written once instead of twice; when one does (a rerun), the savepoint is rolled
    back and the rows take the temporary table. The outcome is the same either way."""
    if ignore_conflicts and rare_conflicts:
        from psycopg.errors import UniqueViolation

        rows = list(rows)
        try:
            _copy(model, columns, rows, ignore_conflicts=False)
        except UniqueViolation:
            pass  # rolled back with _copy's savepoint
        else:
            return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    target = "c360_bulk_load" if ignore_conflicts else table
    # Table and column names come from the model's metadata, never from input.
    with transaction.atomic(), connection.cursor() as cursor:
        history.bind_context(cursor)  # COPY bypasses the wrappers that pass the history context
        if ignore_conflicts:
            cursor.execute(f"CREATE TEMP TABLE {target} AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        copy_in(cursor, target, columns, rows, types_of=model._meta.db_table)
        if ignore_conflicts:
            insert = f"INSERT INTO {table} ({names}) SELECT {names} FROM {target} ON CONFLICT DO NOTHING"  # noqa: S608
            cursor.execute(insert)
            cursor.execute(f"DROP TABLE {target}")


def insert_rows(
    model: type[models.Model],
    columns: list[str],
    rows: Iterable[tuple],
    *,
    ignore_conflicts: bool = False,
    rare_conflicts: bool = False,
) -> None:
    """Insert plain tuples of ``columns`` (attribute names, e.g. "customer_id") into ``model``'s
    table: for millions of rows, where building a model instance per row would cost more than
    writing it. Values must be what the database takes (no JSON adaptation, no field defaults:
    list every column that has no database default)."""
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows],
            batch_size=BATCH // 2,
            ignore_conflicts=ignore_conflicts,
        )
        return
    column_of = {f.attname: f.column for f in model._meta.concrete_fields}
    _copy(model, [column_of[c] for c in columns], rows, ignore_conflicts, rare_conflicts)


def update_rows(model: type[models.Model], columns: list[str], rows: Iterable[tuple]) -> int:
    """Set ``columns`` (attribute names) of many rows at once; each row is (primary key, *values).
    On PostgreSQL one COPY into a temporary table and one ``UPDATE ... FROM`` (not one statement
    per distinct value); elsewhere ``bulk_update``. Returns the rows offered."""
    rows = list(rows)
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        objs = [model(pk=row[0], **dict(zip(columns, row[1:], strict=True))) for row in rows]
        model.objects.bulk_update(objs, columns, batch_size=BATCH // 2)
        return len(rows)
    quote = connection.ops.quote_name
    column_of = {f.attname: f.column for f in model._meta.concrete_fields}
    pk = quote(model._meta.pk.column)
    names = [quote(column_of[c]) for c in columns]
    table = quote(model._meta.db_table)
    # Table and column names come from the model's metadata, never from input.
    with transaction.atomic(), connection.cursor() as cursor:
        history.bind_context(cursor)
        cursor.execute(
            f"CREATE TEMP TABLE c360_bulk_update ON COMMIT DROP AS SELECT {pk}, {', '.join(names)} FROM {table} WITH NO DATA"  # noqa: S608
        )
        copy_in(
            cursor,
            "c360_bulk_update",
            [model._meta.pk.column, *(column_of[c] for c in columns)],
            rows,
            types_of=model._meta.db_table,
        )
        assignments = ", ".join(f"{name} = u.{name}" for name in names)
        cursor.execute(f"UPDATE {table} t SET {assignments} FROM c360_bulk_update u WHERE t.{pk} = u.{pk}")  # noqa: S608
        cursor.execute("DROP TABLE c360_bulk_update")
    return len(rows)


def insert_from_query(model: type[models.Model], columns: list[str], queryset: models.QuerySet) -> int:
    """``INSERT INTO model (columns) SELECT ...``: rows computed by the database go straight into
    another table, none of them through Python. ``queryset`` must be a ``values_list`` whose
    fields match ``columns`` (attribute names) one for one, in order. Returns the rows written."""
    selected = list(queryset.query.values_select) + list(queryset.query.annotation_select)
    names = queryset._fields or selected
    if len(names) != len(columns):
        raise ValueError(f"{len(columns)} columns, but the query selects {len(names)}")
    sql, params = queryset.query.sql_with_params()
    quote = connection.ops.quote_name
    column_of = {f.attname: f.column for f in model._meta.concrete_fields}
    target = ", ".join(quote(column_of[c]) for c in columns)
    with connection.cursor() as cursor:
        # The table and columns come from the model's metadata; the query is the ORM's own.
        cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({target}) {sql}", params)  # noqa: S608
        return cursor.rowcount


def _settle_pending_checks(cursor) -> None:
    """Run the foreign-key checks this transaction deferred so far: PostgreSQL refuses to alter a
    table with pending trigger events. Later rows are deferred again, as Django declares them."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _droppable(cursor, table: str) -> list[tuple[str, str, str]]:
    """(table, drop, create) for the foreign keys and secondary indexes of ``table`` when it is
    empty; nothing for a table that holds rows (dropping would lock and rebuild a live table)."""
    quoted = connection.ops.quote_name(table)
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted})")  # noqa: S608 - name from metadata
    if cursor.fetchone()[0]:
        return []
    found = []
    cursor.execute(
        """
        SELECT c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype = 'f'
        """,
        [table],
    )
    for name, definition in cursor.fetchall():
        constraint = connection.ops.quote_name(name)
        found.append(
            (
                table,
                f"ALTER TABLE {quoted} DROP CONSTRAINT {constraint}",
                f"ALTER TABLE {quoted} ADD CONSTRAINT {constraint} {definition}",
            )
        )
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT i.indisprimary
        """,
        [table],
    )
    # A partitioned table's index reads "ON ONLY <table>"; created so, it would cover no partition.
    found.extend(
        (table, f"DROP INDEX {name}", definition.replace(" ON ONLY ", " ON ", 1))
        for name, definition in cursor.fetchall()
    )
    return found


@contextmanager
def deferred_indexes(*models: type[models.Model]):
    """Bulk-load mode for tables that are empty now (PostgreSQL only; elsewhere it does nothing).

    As the PostgreSQL manual advises for populating a database ("Populating a Database": remove
    indexes and foreign keys, load, recreate them): the secondary indexes and foreign keys of each
    empty table are dropped on entry and recreated on exit, so rows go in without per-row index
    maintenance and per-row foreign-key triggers; recreating sorts each index once and checks each
    foreign key with one query. Primary keys and unique indexes stay (``ON CONFLICT`` needs them),
    so idempotency holds throughout.

    Must run inside a transaction: DDL is transactional on PostgreSQL, so an error rolls the drops
    back with the rows. The dropped indexes take an exclusive lock on their tables, which is why
    only empty tables (a fresh demo database) qualify.
    """
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        if connection.vendor == "postgresql":
            raise RuntimeError("deferred_indexes() must run inside transaction.atomic()")
        yield []
        return
    deferred = _drop_for_load(models)
    # On an error the body's exception leaves through the yield: the transaction rolls back and
    # the drops with it. Only on success are the indexes and keys built again.
    yield list(dict.fromkeys(table for table, _drop, _create in deferred))
    _rebuild_after_load(deferred)


def _drop_for_load(models) -> list[tuple[str, str, str]]:
    """Drop the foreign keys and secondary indexes of the empty tables among ``models``; returns
    (table, drop statement, create statement) for each."""
    deferred: list[tuple[str, str, str]] = []
    with connection.cursor() as cursor:
        for model in models:
            deferred.extend(_droppable(cursor, model._meta.db_table))
        _settle_pending_checks(cursor)
        for _table, drop, _create in deferred:
            cursor.execute(drop)
    return deferred


def _rebuild_after_load(deferred: list[tuple[str, str, str]]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{bulk_rebuild.MEMORY}'")
        _settle_pending_checks(cursor)
        # Indexes before foreign keys: checking a foreign key is one join, which may use them.
        for _table, _drop, create in sorted(deferred, key=lambda d: d[2].startswith("ALTER")):
            cursor.execute(create)
        for table in sorted({table for table, _drop, _create in deferred}):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


@contextmanager
def deferred_indexes_across_transactions(*models: type[models.Model]):
    """Bulk-load mode for a load that several connections write side by side (PostgreSQL, outside
    a transaction): the drops are committed before the body runs, and the indexes and keys are
    built again when it ends, also when it fails (then on what the writers committed), on two
    connections side by side (:mod:`customer360.bulk_rebuild`). Yields the tables, as
    :func:`deferred_indexes`."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        raise RuntimeError("deferred_indexes_across_transactions() runs on PostgreSQL outside a transaction")
    with transaction.atomic():
        deferred = _drop_for_load(models)
    try:
        yield list(dict.fromkeys(table for table, _drop, _create in deferred))
    finally:
        bulk_rebuild.rebuild(deferred)  # on two connections side by side

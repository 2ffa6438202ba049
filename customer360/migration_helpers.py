"""Helpers for data migrations that give roles (groups) their permissions.

Each app grants the permissions of its own models in its own data migration, so the core never
has to know the department apps. Permissions are created first (Django creates them only after
``migrate`` otherwise).
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.contrib.postgres import operations as postgres_operations
from django.db import migrations


def grant_permissions(apps, spec: dict[str, list[str]]) -> None:
    """``spec`` maps a role to ``"app_label.codename"`` strings; groups are created when missing."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in spec.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
            group.permissions.add(permission)


def model_permissions(
    app_label: str, models: list[str], actions=("view", "add", "change", "delete")
) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in actions]


# --- Backfills of timeline event payloads (data migrations that work at millions of events) ----------
EVENT_BATCH = 10_000
ID_RANGE = 100_000


def update_events_by_id_range(
    schema_editor,
    Event,
    *,
    kinds,
    set_payload: str,
    join: str | None,
    where: str,
    params=(),
    step: int = ID_RANGE,
) -> int:
    """PostgreSQL: one ``UPDATE ... FROM`` per range of ``step`` event ids, for events of ``kinds``:
    ``UPDATE <events> e SET payload = <set_payload> FROM <join> WHERE <where>`` (``e`` is the event;
    ``params`` fill ``set_payload``, ``join`` and ``where`` in that order; ``join=None``: no FROM,
    the payload is built from the event alone). Each range is a short statement on the primary key,
    so no lock is held long and the work is visible as it goes. Returns the events updated."""
    table = Event._meta.db_table
    kinds = list(kinds)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table} WHERE kind = ANY(%s)", [kinds])  # noqa: S608
        low, high = cursor.fetchone()
        if low is None:
            return 0
        updated = 0
        source = f" FROM {join}" if join else ""
        sql = (
            f"UPDATE {table} e SET payload = {set_payload}{source} WHERE ({where}) "  # noqa: S608
            "AND e.id >= %s AND e.id < %s AND e.kind = ANY(%s) AND jsonb_typeof(e.payload) = 'object'"
        )
        for start in range(low, high + 1, step):
            cursor.execute(sql, [*params, start, start + step, kinds])
            updated += cursor.rowcount
    return updated


def events_in_batches(Event, *, kinds, size: int = EVENT_BATCH):
    """Events of ``kinds`` in batches of ``size`` by id (the Python path: SQLite, small installs);
    save a batch's changes with ``bulk_update(..., ["payload"])``."""
    events = Event.objects.filter(kind__in=list(kinds)).order_by("pk")
    last = 0
    while batch := list(events.filter(pk__gt=last)[:size]):
        last = batch[-1].pk
        yield batch


class AddIndexConcurrently(postgres_operations.AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (writes go on while a big table is indexed); a plain
    index elsewhere (SQLite, embedded mode, has neither the syntax nor big tables). The migration
    must say ``atomic = False``. A partitioned table (the timeline) is indexed partition by partition,
    since PostgreSQL cannot build an index on a partitioned table concurrently."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        partitions = _partitions_of(schema_editor, model._meta.db_table)
        if partitions is None or not self.allow_migrate_model(schema_editor.connection.alias, model):
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        _index_partitioned(schema_editor, model, self.index, partitions)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )
        model = from_state.apps.get_model(app_label, self.model_name)
        if _partitions_of(schema_editor, model._meta.db_table) is None:
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        # DROP INDEX CONCURRENTLY does not take a partitioned index; the plain one drops its partitions'.
        schema_editor.remove_index(model, self.index)


class RemoveIndexConcurrently(postgres_operations.RemoveIndexConcurrently):
    """DROP INDEX CONCURRENTLY on PostgreSQL (reads and writes go on); a plain drop elsewhere. The
    migration must say ``atomic = False``. Not for the partitioned timeline."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return migrations.RemoveIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return migrations.RemoveIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


def _partitions_of(schema_editor, table: str) -> list[str] | None:
    """The partitions of ``table``, or None when it is not partitioned."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
        if not row or row[0] != "p":
            return None
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def _index_partitioned(schema_editor, model, index, partitions: list[str]) -> None:
    """The parent's index ON ONLY the parent (invalid until complete, built at once), each partition's
    CONCURRENTLY, each attached to it; the parent's index is valid once every partition's is."""
    table = model._meta.db_table
    quote = schema_editor.quote_name
    parent = str(index.create_sql(model, schema_editor))
    schema_editor.execute(parent.replace(f" ON {quote(table)} ", f" ON ONLY {quote(table)} ", 1))
    for partition in partitions:
        name = f"{index.name}_{partition.removeprefix(table + '_')}"[:63]
        statement = index.create_sql(model, schema_editor, concurrently=True)
        statement.rename_table_references(table, partition)
        statement.parts["name"] = quote(name)
        schema_editor.execute(statement)
        schema_editor.execute(f"ALTER INDEX {quote(index.name)} ATTACH PARTITION {quote(name)}")

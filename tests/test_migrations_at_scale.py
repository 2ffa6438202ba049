"""Migrations that a big installation can apply (issue #18): an index added to a table that grows with
the customers is built CONCURRENTLY (a plain CREATE INDEX locks writes for minutes at 20M rows).

Migrations up to the ones below were written before this rule; on a fresh install they cost nothing, and
the installations that applied them did so at a smaller size. Every later migration follows the rule.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import models
from django.db.migrations import operations
from django.db.migrations.loader import MigrationLoader

BEFORE_THE_RULE = {
    "customer360": 17,
    "crm": 6,
    "billing": 6,
    "marketing": 5,
    "insights": 4,
    "collab": 3,
    "analytics": 5,
}
# Tables that grow with customers and events (model names as in migrations, per app).
BIG = {
    "customer360": {
        "customer",
        "customeridentity",
        "timelineevent",
        "timelineeventkey",
        "accesslog",
        "accesslogcustomer",
    },
    "crm": {"activity", "deal", "ticket", "contract", "satisfaction"},
    "billing": {"invoice", "invoiceline", "payment", "dunningnotice"},
    "marketing": {"touch", "consent", "consentchange"},
    "insights": {"recommendation", "customerscore"},
    "collab": {"post"},
    "analytics": {"listenedmessage"},
}


def _builds_an_index_in_place(operation) -> bool:
    if isinstance(operation, AddIndexConcurrently):
        return False
    if isinstance(operation, operations.AddIndex):
        return True
    if isinstance(operation, operations.AddConstraint):
        return isinstance(operation.constraint, models.UniqueConstraint)
    if isinstance(operation, operations.AddField | operations.AlterField):
        field = operation.field
        return bool(field.db_index or field.unique) and not isinstance(field, models.ForeignKey)
    return False


def offending_operations(loader: MigrationLoader) -> list[str]:
    found = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in BEFORE_THE_RULE or not name[:4].isdigit() or int(name[:4]) <= BEFORE_THE_RULE[app]:
            continue
        created = {op.name.lower() for op in migration.operations if isinstance(op, operations.CreateModel)}
        for operation in migration.operations:
            model = getattr(operation, "model_name", "").lower()
            if model in BIG[app] and model not in created and _builds_an_index_in_place(operation):
                found.append(f"{app}.{name}: {operation.describe()}")
        if any(isinstance(op, AddIndexConcurrently) for op in migration.operations) and migration.atomic:
            found.append(f"{app}.{name}: AddIndexConcurrently needs `atomic = False` on the migration")
    return found


def test_indexes_on_big_tables_are_built_concurrently():
    problems = offending_operations(MigrationLoader(None, ignore_no_migrations=True))
    assert not problems, "use AddIndexConcurrently (atomic = False):\n" + "\n".join(problems)


def test_the_check_finds_an_index_built_in_place():
    """The rule can fail: a made-up migration with a plain AddIndex on the timeline is reported."""

    class Migration:
        atomic = True
        operations = [
            operations.AddIndex("timelineevent", models.Index(fields=["kind"], name="c360_probe")),
            operations.AddIndex("newtable", models.Index(fields=["x"], name="c360_probe2")),
        ]

    class Loader:
        disk_migrations = {("customer360", "9999_probe"): Migration()}

    problems = offending_operations(Loader())
    assert len(problems) == 1 and "c360_probe " in problems[0] and "timelineevent" in problems[0]

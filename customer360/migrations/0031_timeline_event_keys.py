"""The timeline's idempotency keys in a table of their own (issue #18), so that the timeline can be
partitioned by time (0032; customer360/partitions.py).

At 20M events the keys are copied in one statement while writers wait (SHARE ROW EXCLUSIVE: the
pages read on). Run it with the web and workers stopped (docker-compose runs migrate before them).
"""

from django.db import migrations, models, transaction

from customer360 import partitions

OLD_KEY = models.UniqueConstraint(fields=["idempotency_key"], name="c360_event_idempotency_key")


def keys_from_events(apps, schema_editor):
    Event = apps.get_model("customer360", "TimelineEvent")
    vendor = schema_editor.connection.vendor
    # One transaction (an operation inside SeparateDatabaseAndState is not wrapped in one).
    with transaction.atomic(using=schema_editor.connection.alias), schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {partitions.TABLE} IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute(
            f"INSERT INTO {partitions.KEYS} (event_id, idempotency_key) "
            f"SELECT id, idempotency_key FROM {partitions.TABLE}"
        )
        schema_editor.remove_constraint(Event, OLD_KEY)
        partitions.add_keys_gone_trigger(cursor, vendor)  # after: SQLite re-creates the table above


def events_keep_their_keys(apps, schema_editor):
    Event = apps.get_model("customer360", "TimelineEvent")
    with transaction.atomic(using=schema_editor.connection.alias), schema_editor.connection.cursor() as cursor:
        partitions.drop_keys_gone_trigger(cursor, schema_editor.connection.vendor)
        schema_editor.add_constraint(Event, OLD_KEY)


class Migration(migrations.Migration):
    dependencies = [("customer360", "0030_event_source_type_without_constraint")]

    operations = [
        migrations.CreateModel(
            name="TimelineEventKey",
            fields=[
                ("event_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("idempotency_key", models.CharField(max_length=200)),
            ],
            options={
                "verbose_name": "timeline event key",
                "constraints": [
                    models.UniqueConstraint(fields=("idempotency_key",), name="c360_event_key_unique")
                ],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="timelineevent", name="c360_event_idempotency_key")
            ],
            database_operations=[migrations.RunPython(keys_from_events, events_keep_their_keys, atomic=True)],
        ),
    ]

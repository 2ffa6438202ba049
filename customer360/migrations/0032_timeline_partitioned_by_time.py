"""The timeline partitioned by time (issue #18): the plain table attached as the first partition of a
partitioned one, yearly partitions after it (customer360/partitions.py).

At 20M events: the unique index on (id, occurred_at) is built CONCURRENTLY and the range CHECK is
validated without blocking reads or writes; the swap at the end changes the catalogue only, under a
short lock. No row is copied. A failed run can simply be run again.
"""

from django.db import migrations

from customer360 import partitions


def partition(apps, schema_editor):
    partitions.partition_timeline(using=schema_editor.connection.alias)


def unpartition(apps, schema_editor):
    partitions.unpartition_timeline(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [("customer360", "0031_timeline_event_keys")]

    operations = [migrations.RunPython(partition, unpartition, atomic=False)]

"""The listening page's examples: a topic's messages in the order of how well they fit it, so the
best few of a period are read from the front of the index instead of sorting all of the topic's
messages (2.4 million messages at a million customers). PostgreSQL only, built CONCURRENTLY
(issue #18); SQLite sorts its few messages."""

from django.db import migrations

NAME = "analytics_message_topic_weight"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # A failed CONCURRENTLY build leaves an invalid index behind: drop it and build again.
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY {NAME} ON analytics_listenedmessage (topic_id, topic_weight DESC, id DESC)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("analytics", "0005_topic_label_by_manager")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]

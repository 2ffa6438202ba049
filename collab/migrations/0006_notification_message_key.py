"""Notifications keep a translation key and its values (``message``, ``params``) so each reader sees
them in their own language. Existing rows were written as text in the sender's language (English or
German): their key and values are read back from that text, in batches; a text that matches no known
message keeps showing as written (``message`` stays empty)."""

import re

from django.db import migrations, models
from django.utils import translation

BATCH = 5000

MESSAGES = (
    "%(name)s mentioned you: %(text)s",
    "New %(kind)s from %(name)s: %(text)s",
    "A request was assigned to you: %(text)s",
    "%(name)s resolved your request: %(text)s",
    "Overdue since %(due)s: %(text)s",
    "%(name)s answered your request: %(text)s",
    "%(name)s commented: %(text)s",
)


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", template)
    regex = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex += re.escape(part)
        else:
            regex += f"(?P<{part}>.*)" if part == "text" else f"(?P<{part}>.+?)"
    return re.compile(f"^{regex}$", re.S)


def _patterns():
    found = []
    for message in MESSAGES:
        for language in ("en", "de"):
            with translation.override(language):
                found.append((message, language, _pattern(translation.gettext(message))))
    return found


def forwards(apps, schema_editor):
    Notification = apps.get_model("collab", "Notification")
    DepartmentRequest = apps.get_model("collab", "DepartmentRequest")
    kinds = {}
    for code, label in DepartmentRequest._meta.get_field("kind").choices:
        for language in ("en", "de"):
            with translation.override(language):
                kinds[translation.gettext(str(label))] = code
    patterns = _patterns()
    last = 0
    while True:
        rows = list(Notification.objects.filter(pk__gt=last, message="").order_by("pk")[:BATCH])
        if not rows:
            break
        last = rows[-1].pk
        changed = []
        for row in rows:
            for message, _language, pattern in patterns:
                match = pattern.match(row.text)
                if match is None:
                    continue
                params = match.groupdict()
                if "kind" in params:
                    if params["kind"] not in kinds:
                        continue
                    params["kind"] = kinds[params["kind"]]
                row.message, row.params = message, params
                changed.append(row)
                break
        Notification.objects.bulk_update(changed, ["message", "params"])


class Migration(migrations.Migration):
    dependencies = [
        ("collab", "0005_history_statement_triggers_field_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="message",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="notification",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True),
    ]

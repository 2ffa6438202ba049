"""Retention: the beat task removes what is past its retention and the run shows on the admin page."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.storage import default_storage

from customer360 import tasks
from customer360.audit.access import Action, record_access
from customer360.audit.models import AccessLog, RetentionRun
from customer360.celery import app
from customer360.sources.models import ImportRun
from tests.conftest import client_for
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import run_import

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def test_an_upload_past_its_retention_is_deleted_and_the_run_is_visible(
    settings, admin_user, rep, import_sandbox
):
    settings.C360_RETENTION_DAYS = {**settings.C360_RETENTION_DAYS, "uploads": 90, "access_log": 365}
    mapping = {"fields": [{"field": "email", "column": "mail"}]}
    with time_machine.travel(START, tick=False):
        old = run_import(DataSourceFactory(slug="old"), b"mail\nold@example.at\n", mapping)
        record_access(None, Action.EXPORT, customers=[1], user=rep, what="old export")
    with time_machine.travel(START + dt.timedelta(days=80), tick=False):
        recent = run_import(DataSourceFactory(slug="recent"), b"mail\nnew@example.at\n", mapping)
    old_name, recent_name = old.file.name, recent.file.name
    assert default_storage.exists(old_name) and default_storage.exists(recent_name)

    with time_machine.travel(START + dt.timedelta(days=91), tick=False):
        assert "audit-retention" in app.conf.beat_schedule
        tasks.enforce_retention()
    assert not default_storage.exists(old_name)
    assert default_storage.exists(recent_name)
    assert ImportRun.objects.get(pk=old.pk).file.name == "" and ImportRun.objects.get(pk=old.pk).total == 1
    uploads = RetentionRun.objects.get(kind="uploads")
    assert uploads.removed == 1 and uploads.error == ""
    assert AccessLog.objects.count() == 1  # 91 days < 365

    with time_machine.travel(START + dt.timedelta(days=400), tick=False):
        tasks.enforce_retention()
        page = client_for(admin_user).get("/audit/retention/").content.decode()
    assert AccessLog.objects.count() == 0  # only the retention task passes the append-only guard
    assert RetentionRun.objects.get(kind="access_log", removed=1)
    assert "Uploaded files" in page and "90 days" in page
    assert "The retention task runs next at" in page

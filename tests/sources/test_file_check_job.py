"""The preview's check of the whole file runs in the worker (issue #15, build 2): the page answers
with the first rows at once and polls the check's progress and result; a result belongs to one
mapping; a check that fails says why on the page, never with a 500."""

import logging
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from customer360.models import Job
from customer360.sources import file_checks, services, tasks
from customer360.sources.models import ImportRun
from tests.conftest import client_for
from tests.sources.factories import DataSourceFactory
from tests.sources.test_row_failures import CUSTOMERS

#: the mapping form for CUSTOMERS: country as text (4 rows refused) or converted (2 refused)
FORM = {"delimiter": "", "encoding": "", "field_0": "external_id", "field_1": "last_name"}
FORM |= {"field_2": "country", "field_3": "city", "field_4": "lifecycle", "required_0": "1"}
AS_TEXT = {**FORM, "type_2": "text"}
#: a poll of the check: session, user, permissions, the run and its job
QUERIES = 7


def _upload(client, data: bytes = CUSTOMERS.encode(), name: str = "c.csv") -> ImportRun:
    DataSourceFactory(slug="crm-export", target="customers")
    client.post("/sources/crm-export/upload/", {"file": SimpleUploadedFile(name, data)})
    return ImportRun.objects.get()


def _preview(client, run: ImportRun, form: dict) -> str:
    return client.post(
        f"/sources/runs/{run.pk}/mapping/", {**form, "action": "preview"}, HTTP_HX_REQUEST="true"
    ).content.decode()


def _check(client, run: ImportRun, job: int | str | None = None) -> str:
    query = "" if job is None else f"?job={job}"
    response = client.get(f"/sources/runs/{run.pk}/check/{query}")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a_changed_mapping_never_shows_the_old_result(admin_user):
    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, AS_TEXT)
    first = Job.objects.get()
    assert tasks.check_file.run(run.pk, first.pk) == "done"
    assert "4 rows will be refused" in _check(client, run, first.pk)
    _preview(client, run, AS_TEXT)  # the same mapping again: its check is reused
    assert Job.objects.count() == 1

    html = _preview(client, run, FORM)  # another mapping: another check, the old result is gone
    second = Job.objects.exclude(pk=first.pk).get()
    assert f"?job={second.pk}" in html and "will be refused" not in html and "check-errors" not in html
    old = _check(client, run, first.pk)  # a poll of the old check still under way on the page
    assert 'id="check-superseded"' in old and "will be refused" not in old and "hx-trigger" not in old
    assert "will be refused" not in _check(client, run)

    _preview(client, run, AS_TEXT)  # back to the first mapping before the second check ran
    third = Job.objects.exclude(pk__in=[first.pk, second.pk]).get()
    assert tasks.check_file.run(run.pk, second.pk) == "superseded"  # the worker skips it
    assert Job.objects.get(pk=second.pk).status == "failed"
    assert "will be refused" not in _check(client, run, second.pk)
    assert tasks.check_file.run(run.pk, third.pk) == "done"
    assert "4 rows will be refused" in _check(client, run, third.pk)
    assert tasks.check_file.run(run.pk, third.pk) == "gone"  # a redelivered task does nothing

    _preview(client, run, FORM)
    fourth = Job.objects.order_by("-pk").first()
    assert tasks.check_file.run(run.pk, fourth.pk) == "done"
    html = _check(client, run, fourth.pk)
    assert "2 rows will be refused" in html and "4 rows will be refused" not in html


@pytest.mark.django_db
def test_a_check_stops_when_the_mapping_changes_while_it_runs(admin_user, monkeypatch):
    client = client_for(admin_user)
    run = _upload(client, b"id;Name\n" + b"".join(b"%d;N%d\n" % (i, i) for i in range(12_000)))
    form = {"delimiter": "", "encoding": "", "field_0": "external_id", "field_1": "last_name"}
    _preview(client, run, form)
    job = Job.objects.get()
    advance = Job.advance

    def then_another_mapping(self, by=1, **kwargs):  # the admin previews another mapping meanwhile
        advance(self, by, **kwargs)
        ImportRun.objects.filter(pk=run.pk).update(check_job=None)

    monkeypatch.setattr(Job, "advance", then_another_mapping)
    assert tasks.check_file.run(run.pk, job.pk) == "superseded"
    job.refresh_from_db()
    assert (job.status, job.done, "check" in job.result) == ("failed", 5000, False)


@pytest.mark.django_db
def test_starting_the_run_does_not_wait_for_the_check(
    admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.check_file, "apply_async", lambda args, **kw: sent.append(("check", args)))
    monkeypatch.setattr(tasks.run_import, "apply_async", lambda args, **kw: sent.append(("import", args)))
    client = client_for(admin_user)
    run = _upload(client)
    with django_capture_on_commit_callbacks(execute=True):
        _preview(client, run, FORM)
        response = client.post(f"/sources/runs/{run.pk}/mapping/", {**FORM, "action": "run"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/sources/runs/{run.pk}/"
    assert sent == [("check", [run.pk, job.pk]), ("import", [run.pk])]
    run.refresh_from_db()
    assert (run.status, Job.objects.get().status) == ("queued", "queued")
    # the run's mapping is the one checked: the check goes on and its result still shows
    assert tasks.check_file.run(run.pk, job.pk) == "done"
    assert "2 rows will be refused" in _check(client, run, job.pk)


@pytest.mark.django_db
def test_a_running_check_shows_its_progress_and_polls(admin_user, django_assert_max_num_queries):
    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, FORM)
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(
        status="running", started_at=timezone.now(), done=120_000, total=700_000
    )
    with django_assert_max_num_queries(QUERIES):
        html = _check(client, run, job.pk)
    assert "Checked 120,000 of ~700,000 rows as the run will…" in html
    assert 'hx-trigger="every 1s"' in html and 'value="17"' in html
    client.cookies["django_language"] = "de"
    assert "120.000 von ~700.000 Zeilen geprüft" in _check(client, run, job.pk)


@pytest.mark.django_db
def test_the_worker_writes_the_reasons_in_the_language_of_who_asked(admin_user):
    client = client_for(admin_user)
    run = _upload(client)
    client.cookies["django_language"] = "de"
    _preview(client, run, AS_TEXT)
    job = Job.objects.get()
    assert tasks.check_file.run(run.pk, job.pk) == "done"
    html = _check(client, run, job.pk)
    assert "4 Zeilen werden abgelehnt und in der Fehlerdatei aufgeführt." in html
    assert "ist länger als 2 Zeichen" in html


@pytest.mark.django_db
def test_a_file_unreadable_after_its_head_fails_the_check_with_a_message(admin_user):
    client = client_for(admin_user)
    head = b"id;Name\n" + b"".join(b"%d;Name %d\n" % (i, i) for i in range(120_000))
    assert len(head) > 1024 * 1024  # the page reads only the first MB: the rest is the worker's
    run = _upload(client, head + b"120001;Gr\xfcber\n")
    html = _preview(client, run, {"encoding": "utf-8", "field_0": "external_id", "field_1": "last_name"})
    assert 'id="preview-table"' in html
    job = Job.objects.get()
    assert tasks.check_file.run(run.pk, job.pk) == "failed"
    html = _check(client, run, job.pk)
    assert "The whole file could not be checked: The file cannot be read as utf-8." in html
    assert "hx-trigger" not in html


@pytest.mark.django_db
def test_an_unexpected_error_is_reported_on_the_page_and_logged_without_values(
    admin_user, monkeypatch, caplog
):
    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, FORM)
    job = Job.objects.get()

    def broken(**kwargs):
        raise ValueError("Huber;United Kingdom")

    monkeypatch.setattr(services, "file_check", broken)
    with caplog.at_level(logging.WARNING):
        assert tasks.check_file.run(run.pk, job.pk) == "failed"
    assert "ValueError" in caplog.text and "Huber" not in caplog.text
    html = _check(client, run, job.pk)
    assert "The whole file could not be checked: The check failed (ValueError)." in html
    assert Job.objects.get().status == "failed"
    _preview(client, run, FORM)  # the same mapping again checks again (the failed check is not reused)
    assert Job.objects.filter(status="queued").count() == 1


@pytest.mark.django_db
def test_a_check_out_of_time_in_the_worker_says_so(admin_user, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, FORM)
    job = Job.objects.get()

    def too_long(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "file_check", too_long)
    assert tasks.check_file.run(run.pk, job.pk) == "failed"
    html = _check(client, run, job.pk)
    assert "took longer than the worker may take for it and was stopped" in html


def test_the_check_task_ends_within_its_limits_before_the_broker_redelivers_it():
    check = tasks.check_file
    assert check.soft_time_limit < check.time_limit == file_checks.CHECK_HARD_LIMIT
    assert (
        check.soft_time_limit > django_settings.C360_PREVIEW_CHECK_SECONDS
    )  # a partial check, not a failure
    assert check.time_limit < django_settings.C360_VISIBILITY_TIMEOUT


@pytest.mark.django_db
def test_an_unreachable_broker_fails_the_check_at_once(
    admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    def down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.check_file, "apply_async", down)
    client = client_for(admin_user)
    run = _upload(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/sources/runs/{run.pk}/mapping/", {**FORM, "action": "preview"}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200 and 'id="preview-table"' in response.content.decode()
    assert "The worker could not be reached" in _check(client, run)


@pytest.mark.django_db
def test_a_check_no_worker_took_up_stops_polling_and_says_so(admin_user):
    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, FORM)
    Job.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    html = _check(client, run)
    assert "no worker has taken it up" in html and "hx-trigger" not in html
    _preview(client, run, FORM)  # previewing again starts a new check
    assert Job.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("job", ["abc", "²", "-1", "9" * 30, "0"])
def test_a_malformed_job_in_the_poll_is_no_500(admin_user, job):
    client = client_for(admin_user)
    run = _upload(client)
    _preview(client, run, FORM)
    html = _check(client, run, job)
    assert "will be refused" not in html

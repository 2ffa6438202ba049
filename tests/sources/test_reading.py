"""Reading files and coercing values: encodings, delimiters, German formats, formulas."""

import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook

from customer360.sources.mapping import CoercionError, apply_mapping, coerce, to_decimal
from customer360.sources.reading import NotATable, neutralise, read_table


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("12,5", "12.5"),
        ("-3", "-3"),
        ("€ 3.50", "3.50"),
        ("1.000.000", "1000000"),
    ],
)
def test_decimal_comma_and_thousands(text, expected):
    assert to_decimal(text) == Decimal(expected)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False))
def test_decimal_round_trips_in_german_form(value):
    german = f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    assert to_decimal(german) == value


def test_dates_bools_phones_and_errors():
    assert coerce("24.12.2025", "date") == date(2025, 12, 24)
    assert coerce("2025-12-24", "date") == date(2025, 12, 24)
    assert [coerce(v, "bool") for v in ("ja", "Nein", "yes", "no", "1", "0")] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    assert coerce("01 2345678", "phone") == "+4312345678"
    assert coerce("17850.0", "id") == "17850"
    with pytest.raises(CoercionError, match="not a date"):
        coerce("31.02.2020", "date")
    with pytest.raises(CoercionError, match="yes/no"):
        coerce("vielleicht", "bool")


def test_row_errors_name_the_column_and_the_value():
    values, errors = apply_mapping(
        {"Betrag": "12,3,4", "Datum": "morgen"},
        [
            {"field": "payload.amount", "column": "Betrag", "type": "decimal"},
            {"field": "occurred_at", "column": "Datum"},
        ],
        {"occurred_at": "datetime"},
    )
    assert values == {}
    assert [str(e) for e in errors] == [
        'Column "Betrag": "12,3,4" is not a decimal number',
        'Column "Datum": "morgen" is not a date and time (expected YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM)',
    ]


def test_defaults_constants_templates_and_prefix_maps():
    entries = [
        {
            "field": "kind",
            "column": "No",
            "prefix_map": {"C": "order.cancelled"},
            "otherwise": "order.placed",
        },
        {"field": "title", "template": "Order {No}"},
        {"field": "channel", "constant": "web"},
        {"field": "city", "column": "Ort", "default": "Wien"},
        {"field": "payload.amount", "columns": ["Q", "P"], "combine": "multiply", "type": "decimal"},
    ]
    values, errors = apply_mapping({"No": "C536379", "Ort": "", "Q": "-2", "P": "1,50"}, entries, {})
    assert errors == []
    assert values == {
        "kind": "order.cancelled",
        "title": "Order C536379",
        "channel": "web",
        "city": "Wien",
        "payload": {"amount": Decimal("-3.00")},
    }


def test_windows_1252_semicolon_file_with_umlauts(fixture_path):
    table = read_table(fixture_path("erp_customers_cp1252.csv").read_bytes())
    assert (table.encoding, table.delimiter) == ("cp1252", ";")
    records = dict(table.records())
    assert records[2]["Vorname"] == "Jürgen" and records[2]["Nachname"] == "Größer"
    assert records[7]["Vorname"] == "Hans; der Zweite"  # the quoted delimiter stays in the cell


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_utf8_with_bom_and_sniffed_delimiters(delimiter):
    data = (
        "\ufeff" + delimiter.join(["Name", "Ort"]) + "\n" + delimiter.join(["Müller", "Wien"]) + "\n"
    ).encode("utf-8")
    table = read_table(data)
    assert table.header == ["Name", "Ort"]
    assert (table.encoding, table.delimiter) == ("utf-8-sig", delimiter)
    assert table.rows == [["Müller", "Wien"]]


def test_delimiter_and_encoding_can_be_overridden():
    table = read_table(b"a|b\n1|2\n", delimiter="|", encoding="utf-8")
    assert table.header == ["a", "b"] and table.rows == [["1", "2"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
        (b"", "empty"),
        (b"Dear Sabine,\nhere is the report you asked for.\nBest regards\n", "does not look like a table"),
    ],
)
def test_a_file_that_is_not_a_table_gets_a_clear_error(data, message):
    with pytest.raises(NotATable, match=message):
        read_table(data)


def test_xlsx_through_openpyxl():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Kundennummer", "Datum", "Betrag"])
    sheet.append([17850, date(2024, 3, 1), 12.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    table = read_table(buffer.getvalue())
    assert table.kind == "xlsx"
    assert table.header == ["Kundennummer", "Datum", "Betrag"]
    assert table.rows == [["17850", "2024-03-01", "12.5"]]


def test_formulas_are_neutralised_for_export_but_numbers_stay():
    assert neutralise('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert neutralise("+43 1 234") == "'+43 1 234"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-cmd") == "'-cmd"
    assert neutralise("-6") == "-6"
    assert neutralise("Müller") == "Müller"

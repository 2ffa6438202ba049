"""Field mapping: which column becomes which field, with type coercion, defaults and constants.

A mapping is plain JSON saved on the data source and copied onto every run::

    {"fields": [
        {"field": "external_id", "column": "CustomerID", "type": "id", "required": true},
        {"field": "occurred_at", "column": "InvoiceDate", "type": "datetime"},
        {"field": "kind", "column": "InvoiceNo", "prefix_map": {"C": "order.cancelled"},
         "otherwise": "order.placed"},
        {"field": "payload.amount", "columns": ["Quantity", "UnitPrice"], "combine": "multiply",
         "type": "decimal"},
        {"field": "title", "template": "Order {InvoiceNo}: {Description}"},
        {"field": "department", "constant": "sales"}
    ]}

Entry keys: ``column`` (or ``columns`` + ``combine`` "multiply"/"join"/"key", or ``template`` with
{Column} placeholders, or ``constant``), ``type`` (see :data:`TYPES`; the target field's type when
absent), ``default`` (used when the cell is empty), ``required``, ``prefix_map`` + ``otherwise``.

``"combine": "key"`` makes a row's identity from the columns that identify it (an event id from
invoice number + stock code + ...): see :func:`row_key`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customer360.text import normalise_email, normalise_phone

TYPES = {
    "text": gettext_lazy("Text"),
    "id": gettext_lazy("Identifier"),
    "int": gettext_lazy("Whole number"),
    "decimal": gettext_lazy("Decimal (1.234,56 or 1,234.56)"),
    "date": gettext_lazy("Date (YYYY-MM-DD or DD.MM.YYYY)"),
    "datetime": gettext_lazy("Date and time"),
    "bool": gettext_lazy("Yes/no (ja/nein, yes/no, 1/0)"),
    "email": gettext_lazy("E-mail"),
    "phone": gettext_lazy("Phone (to E.164)"),
    "country": gettext_lazy("Country (name or code, to ISO code)"),
    "currency": gettext_lazy("Currency (name, symbol or code, to ISO 4217)"),
}

_TRUE = {"ja", "j", "yes", "y", "true", "wahr", "1", "x", "on"}
_FALSE = {"nein", "n", "no", "false", "falsch", "0", "off", "-"}
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y", "%Y/%m/%d", "%Y%m%d")
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
)
_CURRENCY = re.compile(r"[\s\u00a0€$£]")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_INTEGER_FLOAT = re.compile(r"^(-?\d+)\.0+$")


class CoercionError(ValueError):
    """A value that does not fit the type; the message names what was expected."""


def to_decimal(value: str) -> Decimal:
    """ "1.234,56", "1,234.56", "12,5", "€ 3.50" and "-3" as Decimal; a lone comma is a decimal comma."""
    text = re.sub(r"[\s\u00a0'€$£]", "", value)
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in text:
        if text.count(",") > 1:
            raise CoercionError(_("is not a decimal number"))
        text = text.replace(",", ".")
    elif text.count(".") > 1:
        text = text.replace(".", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CoercionError(_("is not a decimal number")) from None
    if not number.is_finite():
        raise CoercionError(_("is not a decimal number"))
    return number


LOCALES = {
    "": gettext_lazy("Automatic (decided per value)"),
    "de_AT": gettext_lazy("German, Austria (1.234,50 and 31.12.2025)"),
    "de_DE": gettext_lazy("German, Germany (1.234,50 and 31.12.2025)"),
    "de_CH": gettext_lazy("German, Switzerland (1’234.50 and 31.12.2025)"),
    "en_GB": gettext_lazy("English, UK (1,234.50 and 31/12/2025)"),
    "en_US": gettext_lazy("English, US (1,234.50 and 12/31/2025)"),
    "en": gettext_lazy("English (1,234.50 and 12/31/2025)"),
}


@lru_cache(maxsize=64)
def _plain_number(locale: str) -> tuple[re.Pattern, str]:
    """Digits with the locale's decimal symbol and no grouping: the common case, read without
    babel's slower general parser (the symbol itself comes from babel)."""
    from babel.numbers import get_decimal_symbol

    symbol = get_decimal_symbol(locale)
    return re.compile(r"^[+-]?\d+(?:" + re.escape(symbol) + r"\d+)?$"), symbol


@lru_cache(maxsize=65536)
def locale_decimal(value: str, locale: str) -> Decimal:
    """A number written the way ``locale`` writes it (babel's CLDR data, strict about grouping):
    "1.234,50" and "1.234" in de_AT are 1234.50 and 1234; "1,234.50" in en is 1234.50."""
    from babel.numbers import NumberFormatError, parse_decimal

    text = _CURRENCY.sub("", value)
    plain, symbol = _plain_number(locale)
    if plain.match(text):
        return Decimal(text.replace(symbol, "."))
    try:
        number = parse_decimal(text, locale=locale, strict=True)
    except (NumberFormatError, ValueError):
        raise CoercionError(_("is not a number in the format of %(locale)s") % {"locale": locale}) from None
    if not number.is_finite():
        raise CoercionError(_("is not a decimal number"))
    return number


def locale_date(value: str, locale: str) -> date:
    """ISO dates always; otherwise the locale's own short date (31.12.2025 in de_AT, 12/31/25 in en)."""
    from babel.dates import parse_date

    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return parse_date(value, locale=locale, format="short")
    except (ValueError, IndexError, TypeError):
        raise CoercionError(_("is not a date in the format of %(locale)s") % {"locale": locale}) from None


def locale_datetime(value: str, locale: str) -> datetime:
    """ISO date-times always; otherwise the locale's short date, a space and HH:MM[:SS]."""
    from babel.dates import parse_time

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        day, _space, clock = value.partition(" ")
        try:
            moment = parse_time(clock, locale=locale) if clock else datetime.min.time()
        except (ValueError, IndexError, TypeError):
            raise CoercionError(
                _("is not a date and time in the format of %(locale)s") % {"locale": locale}
            ) from None
        parsed = datetime.combine(locale_date(day, locale), moment)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.get_default_timezone())
    return parsed


def to_date(value: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    try:
        return to_datetime(value).date()
    except CoercionError:
        raise CoercionError(_("is not a date (expected YYYY-MM-DD or DD.MM.YYYY)")) from None


def to_datetime(value: str) -> datetime:
    parsed = None
    if value[:4].isdigit():
        try:  # the common ISO case, fast in C
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    for fmt in () if parsed else _DATETIME_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
            break
        except ValueError:
            continue
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(value, fmt)
                    break
                except ValueError:
                    continue
    if parsed is None:
        raise CoercionError(_("is not a date and time (expected YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM)"))
    if parsed.tzinfo is None:
        # Naive times in a file mean the company's own time zone (zoneinfo resolves DST).
        parsed = parsed.replace(tzinfo=timezone.get_default_timezone())
    return parsed


def to_bool(value: str) -> bool:
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CoercionError(_("is not yes/no (ja/nein, yes/no, true/false, 1/0)"))


def coerce(value: str, type_name: str, *, region: str = "AT", locale: str = ""):
    """Convert a non-empty text cell to ``type_name``; raise :class:`CoercionError`.

    ``locale`` (the data source's, e.g. "de_AT") decides how numbers and dates are written;
    without one each value is read by its own look (the older behaviour).
    """
    value = value.strip()
    if type_name in ("text", ""):
        return value
    if type_name == "id":
        match = _INTEGER_FLOAT.match(value)  # spreadsheets turn 17850 into "17850.0"
        return match.group(1) if match else value
    if type_name == "decimal":
        return locale_decimal(value, locale) if locale else to_decimal(value)
    if type_name == "int":
        number = locale_decimal(value, locale) if locale else to_decimal(value)
        if number != number.to_integral_value():
            raise CoercionError(_("is not a whole number"))
        return int(number)
    if type_name == "date":
        return locale_date(value, locale) if locale else to_date(value)
    if type_name == "datetime":
        return locale_datetime(value, locale) if locale else to_datetime(value)
    if type_name == "bool":
        return to_bool(value)
    if type_name == "email":
        email = normalise_email(value)
        try:
            validate_email(email)
        except ValidationError:
            raise CoercionError(_("is not an e-mail address")) from None
        return email
    if type_name == "phone":
        phone = normalise_phone(value, region)
        if not phone:
            raise CoercionError(_("is not a phone number"))
        return phone
    if type_name in ("country", "currency"):
        from customer360.sources import codes

        code = codes.country_code(value) if type_name == "country" else codes.currency_code(value)
        if code is None:
            raise CoercionError(
                _("is not a country (a name in English or German, or an ISO code)")
                if type_name == "country"
                else _("is not a currency (an ISO 4217 code such as EUR, a name or a symbol)")
            )
        return code
    raise CoercionError(_("has an unknown type %(type)s") % {"type": type_name})


@dataclass(frozen=True)
class RowError:
    """Why one cell of one row was refused: the column, the value and the reason."""

    column: str
    value: str
    message: str

    def __str__(self) -> str:
        return _('Column "%(column)s": "%(value)s" %(message)s') % {
            "column": self.column,
            "value": self.value[:80],
            "message": self.message,
        }


def entry_label(entry: dict) -> str:
    """What a mapping entry reads, as its errors name it: the column, "A × B", "A + B", the template,
    or the field of a constant."""
    if "constant" in entry:
        return entry.get("field", "")
    if entry.get("template"):
        return entry["template"]
    if entry.get("columns"):
        return (" × " if entry.get("combine") == "multiply" else " + ").join(entry["columns"])
    return entry.get("column", "")


def _raw_value(entry: dict, record: dict[str, str], locale: str = "") -> tuple[str, str]:
    """``(column label for errors, raw text)`` of one mapping entry for one record."""
    label = entry_label(entry)
    if "constant" in entry:
        return label, str(entry["constant"])
    if entry.get("template"):
        literals, columns = _template_parts(entry["template"])
        values = [str(record.get(c, "") or "").strip() for c in columns]
        return label, "".join(x for pair in zip(literals, [*values, ""], strict=True) for x in pair)
    if entry.get("columns"):
        columns = entry["columns"]
        values = [str(record.get(c, "") or "").strip() for c in columns]
        if entry.get("combine") == "multiply":
            return label, multiply(columns, values, locale)
        if entry.get("combine") == "key":
            return label, row_key(values)
        return label, " ".join(v for v in values if v)
    value = record.get(label)
    return label, "" if value is None else str(value)


def multiply(columns: list[str], values: list[str], locale: str = "") -> str:
    """The product of the (stripped) cells as text; "" when one is empty; a cell that is not a
    number raises :class:`_CellError` naming its column."""
    if any(not v for v in values):
        return ""
    product = Decimal(1)
    for column, value in zip(columns, values, strict=True):
        try:
            product *= locale_decimal(value, locale) if locale else to_decimal(value)
        except CoercionError as exc:
            raise _CellError(RowError(column, value, str(exc))) from None
    return str(product)


def row_key(values: list[str] | tuple[str, ...]) -> str:
    """The identity of a row from its identifying cells (stripped), "" when all are empty.

    A hash of the cells as identifiers ("17850.0" is "17850", as spreadsheets write it): the same
    line exported again in another encoding, with another delimiter or quoting, has the same key.
    """
    if not any(values):
        return ""
    cells = []
    for value in values:
        match = _INTEGER_FLOAT.match(value)
        cells.append(match.group(1) if match else value)
    return "key:" + hashlib.sha1("\x1f".join(cells).encode(), usedforsecurity=False).hexdigest()[:24]


@lru_cache(maxsize=256)
def _template_parts(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``"Order {No}: {Text}"`` -> (("Order ", ": ", ""), ("No", "Text")), split once per template."""
    pieces = _PLACEHOLDER.split(template)
    return tuple(pieces[0::2]), tuple(pieces[1::2])


@lru_cache(maxsize=100_000)
def _coerce_cached(value: str, type_name: str, region: str, locale: str):
    """Files repeat their prices, quantities and dates: each distinct text is converted once
    (the results are immutable: Decimal, date, datetime, int, bool, str)."""
    return coerce(value, type_name, region=region, locale=locale)


class _CellError(Exception):
    def __init__(self, error: RowError):
        self.error = error


def apply_mapping(
    record: dict[str, str],
    entries: list[dict],
    field_types: dict[str, str],
    *,
    region: str = "AT",
    locale: str = "",
) -> tuple[dict, list[RowError]]:
    """Map one record to ``{field: value}``; ``payload.x``/``attributes.x`` become nested dicts.

    Returns the values and the errors; a row with errors must not be written.
    """
    values: dict = {}
    errors: list[RowError] = []
    for entry in entries:
        name = entry.get("field", "")
        if not name:
            continue
        try:
            label, raw = _raw_value(entry, record, locale)
        except _CellError as exc:
            errors.append(exc.error)
            continue
        value = finish(entry, label, raw, entry.get("type") or field_types.get(name, "text"), region, locale)
        if value is SKIP:
            continue
        if isinstance(value, RowError):
            errors.append(value)
            continue
        _assign(values, name, value)
    return values, errors


#: :func:`finish` of an empty cell without a default: the field gets no value.
SKIP = object()


def finish(entry: dict, label: str, raw: str, type_name: str, region: str, locale: str):
    """One entry's raw text to its value: prefix map, default, required, type. Returns the value,
    :data:`SKIP`, or the :class:`RowError`; depends on nothing but its arguments (plans cache it)."""
    raw = raw.strip()
    prefix_map = entry.get("prefix_map") or {}
    if prefix_map and raw:
        mapped = next((v for p, v in prefix_map.items() if raw.startswith(p)), None)
        raw = mapped if mapped is not None else str(entry.get("otherwise", raw))
    if not raw and entry.get("default") not in (None, ""):
        raw = str(entry["default"])
    if not raw:
        if entry.get("required"):
            return RowError(label, "", _("is empty, but a value is required"))
        return SKIP
    try:
        if type_name in ("text", "", "id"):
            return coerce(raw, type_name)
        return _coerce_cached(raw, type_name, region, locale)
    except CoercionError as exc:
        return RowError(label, raw, str(exc))


def _assign(values: dict, name: str, value) -> None:
    if name.startswith(("payload.", "attributes.", "ids.")):
        group, key = name.split(".", 1)
        values.setdefault(group, {})[key] = value
    else:
        values[name] = value


def json_safe(value):
    """Decimals, dates and nested dicts in a form a JSONField can store."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def suggest(header: list[str], target_fields: list) -> list[dict]:
    """A first mapping: columns whose folded name matches a field (or its label) are mapped."""
    from customer360.text import fold

    def key(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", fold(str(text)))

    by_key = {}
    for target_field in target_fields:
        for alias in (target_field.name, target_field.label, *target_field.aliases):
            by_key.setdefault(key(alias), target_field.name)
    entries = []
    for column in header:
        name = by_key.get(key(column))
        entries.append({"column": column, "field": name or "", "type": ""})
    return entries

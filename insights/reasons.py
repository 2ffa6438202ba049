"""Reasons in plain words (English and German) from the features that drove a recommendation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from insights.features import features

FIXED = {
    "explore": ("new action, being tried out", "neue Aktion, wird erprobt"),
    "quiet": ("nothing would serve the customer now", "derzeit würde dem Kunden nichts nützen"),
}


def sentence(texts: list[str], *, exploring: bool = False) -> str:
    """The reasons as one sentence in the active language ("Recommended because: a, b and c."). The exploration
    marker is left out: pages explain exploration next to the action instead."""
    from django.utils.translation import gettext as _

    explore = set(FIXED["explore"])
    items = [t for t in texts if t and not (exploring and t in explore)]
    if not items:
        return ""
    joined = (
        items[0]
        if len(items) == 1
        else _("%(list)s and %(last)s")
        % {
            "list": ", ".join(items[:-1]),
            "last": items[-1],
        }
    )
    return _("Recommended because: %(reasons)s.") % {"reasons": joined}


def text_pair(key: str) -> dict:
    en, de = FIXED[key]
    return {"en": en, "de": de}


def _count_word(value: float, language: str) -> str:
    n = int(value)
    words = {"en": {1: "once", 2: "twice"}, "de": {1: "einmal", 2: "zweimal"}}[language]
    return words.get(n, f"{n} times" if language == "en" else f"{n}-mal")


def _money(value: float, language: str) -> str:
    text = f"{value:,.2f}"
    return text if language == "en" else text.replace(",", "_").replace(".", ",").replace("_", ".")


def _years(days: float, language: str) -> str:
    """A customer's time in years as words ("less than a year", "a year", "4 years"; German in the
    dative that "seit" takes)."""
    years = round(days / 365)
    if years < 1:
        return "less than a year" if language == "en" else "weniger als einem Jahr"
    if years == 1:
        return "a year" if language == "en" else "einem Jahr"
    return f"{years} years" if language == "en" else f"{years} Jahren"


def _plain(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.1f}"
    return str(value)


def notable(value) -> bool:
    if value is None or value is pd.NA:
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return not math.isnan(float(value)) and float(value) != 0
    return str(value) != ""


def describe(name: str, value, text: str = "") -> dict | None:
    """{"f", "en", "de"} for a feature's value, or None when there is nothing worth saying.

    ``text`` is the value of the feature's companion text feature (e.g. the campaign clicked)."""
    feature = features.get(name)
    if feature is None or not feature.reason_en or not notable(value):
        return None
    text = str(text or "") if feature.text else ""
    if feature.text and not text:
        text = "a campaign"
    result = {"f": name}
    one = (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and value == 1
    )
    templates = (
        ("en", (one and feature.one_en) or feature.reason_en),
        ("de", (one and feature.one_de) or feature.reason_de or feature.reason_en),
    )
    for language, template in templates:
        numeric = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        result[language] = template.format(
            v=_plain(value),
            n=_count_word(value, language) if numeric else _plain(value),
            m=_money(float(value), language) if numeric else _plain(value),
            y=_years(float(value), language) if numeric else "",
            t=text if language == "en" or text != "a campaign" else "eine Kampagne",
            label=feature.label,
        )
    return result


def _texts(name: str, rows: pd.DataFrame) -> np.ndarray:
    feature = features.get(name)
    if feature is not None and feature.text and feature.text in rows.columns:
        return rows[feature.text].fillna("").astype(str).to_numpy()
    return np.full(len(rows), "", dtype=object)


def rule_reasons(rules: list[dict], rows: pd.DataFrame) -> list[list[dict]]:
    """Per row: the applicability and (positive) suitability rules that hold, in words."""
    from insights import rules as rule_engine

    relevant = [
        r
        for r in rules
        if r["kind"] == "applicability" or (r["kind"] == "suitability" and float(r["weight"]) > 1)
    ]
    out: list[list[dict]] = [[] for _ in range(len(rows))]
    for rule in relevant:
        hits = rule_engine.evaluate(rule, rows).to_numpy()
        field = rule["field"]
        values = rows[field].to_numpy() if field in rows.columns else None
        texts = _texts(field, rows)
        for i in np.flatnonzero(hits):
            if any(item["f"] == field for item in out[i]):
                continue
            if rule.get("reason_en"):
                out[i].append(
                    {"f": field, "en": rule["reason_en"], "de": rule.get("reason_de") or rule["reason_en"]}
                )
            elif values is not None:
                item = describe(field, values[i], texts[i])
                if item:
                    out[i].append(item)
    return out


def model_reasons(artifact: dict, rows: pd.DataFrame, top: int = 2, candidates: int = 8) -> list[list[dict]]:
    """Per row: the model's most important features where this customer stands out."""
    importance = artifact.get("importance", {})
    names = [n for n, v in sorted(importance.items(), key=lambda kv: -kv[1]) if v > 0 and n in rows.columns]
    names = [n for n in names if features.get(n) and features.get(n).reason_en][:candidates]
    if not names or rows.empty:
        return [[] for _ in range(len(rows))]
    scores = np.zeros((len(rows), len(names)))
    for j, name in enumerate(names):
        column = rows[name]
        if name in artifact["center"]:
            values = pd.to_numeric(
                column.astype("float64") if column.dtype == bool else column, errors="coerce"
            )
            deviation = (
                np.abs(values.to_numpy(dtype=float) - artifact["center"][name]) / artifact["scale"][name]
            )
            scores[:, j] = np.nan_to_num(deviation) * importance[name]
        else:
            mode = artifact["mode"].get(name)
            scores[:, j] = (column.astype("string").fillna("").to_numpy() != (mode or "")) * importance[name]
    order = np.argsort(-scores, axis=1)
    columns = {name: rows[name].to_numpy() for name in names}
    texts = {name: _texts(name, rows) for name in names}
    out = []
    for i in range(len(rows)):
        items = []
        for j in order[i]:
            if scores[i, j] <= 0 or len(items) >= top:
                break
            item = describe(names[j], columns[names[j]][i], texts[names[j]][i])
            if item:
                items.append(item)
        out.append(items)
    return out

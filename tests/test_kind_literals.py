"""Nobody retypes a declared event kind (issue #17): insights and analytics read kind sets from the
registry (``events.kinds(tag=...)``) or import the declaration they mean (``DEAL_WON.kind``); a
department names no other app's kind. The core has its own check
(tests/customer360/test_core_names_no_department.py).

The check reads the modules' string literals (docstrings, which may explain a kind, and migrations,
which are history, aside) and the apps' templates.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from customer360 import events

ROOT = Path(__file__).resolve().parent.parent
READERS = ("insights", "analytics")
DEPARTMENTS = ("crm", "marketing", "billing", "collab")


def declared_by() -> dict[str, set[str]]:
    """Kind names per app that declares them (its events module), the core's included."""
    owners = {"customer360": "customer360.events_core"} | {
        a: f"{a}.events" for a in (*DEPARTMENTS, "insights")
    }
    result = {}
    for app, module in owners.items():
        values = vars(importlib.import_module(module)).values()
        found = set()
        for value in values:
            items = value.values() if isinstance(value, dict) else [value]
            found |= {item.kind for item in items if isinstance(item, events.EventKind)}
        result[app] = found
    return result


def literals(source: str) -> list[str]:
    """The string literals of a module, without its docstrings."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def named(text: str, kinds: set[str]) -> set[str]:
    """Kinds named in ``text``, and the bare prefixes and suffixes of ``kinds`` that a
    ``startswith("ticket.")`` or ``endswith(".opened")`` would test."""
    found = {k for k in kinds if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", text)}
    parts = {f"{k.split('.')[0]}." for k in kinds} | {f".{k.split('.', 1)[1]}" for k in kinds}
    return found | ({text} & parts)


def files_of(app: str) -> list[Path]:
    files = [p for p in (ROOT / app).rglob("*") if p.suffix in {".py", ".html", ".txt"}]
    return sorted(p for p in files if "migrations" not in p.parts and p.name != "events.py")


def offenders(app: str, kinds: set[str]) -> dict[str, list[str]]:
    result = {}
    for path in files_of(app):
        text = path.read_text(encoding="utf-8")
        strings = literals(text) if path.suffix == ".py" else [text]
        found = set().union(*(named(s, kinds) for s in strings)) if strings else set()
        if found:
            result[str(path.relative_to(ROOT))] = sorted(found)
    return result


def test_insights_and_analytics_name_no_declared_kind():
    kinds = set().union(*declared_by().values())
    assert {"deal.won", "email.clicked", "customer.created", "nba.accepted"} <= kinds
    for app in READERS:
        assert offenders(app, kinds) == {}, app


def test_departments_name_no_other_apps_kind():
    owners = declared_by()
    for app in DEPARTMENTS:
        others = set().union(*(kinds for owner, kinds in owners.items() if owner not in (app, "customer360")))
        assert offenders(app, others) == {}, app


def test_the_check_sees_a_literal_and_spares_a_docstring():
    kinds = {"deal.won", "email.clicked", "ticket.opened"}
    source = '"""Counts ``deal.won`` events."""\nWON = "deal.won"\nx = k.startswith("ticket.")\n'
    assert set().union(*(named(s, kinds) for s in literals(source))) == {"deal.won", "ticket."}
    assert named(".clicked", kinds) == {".clicked"}
    assert named("nba.by_action", kinds) == set()
    assert named("see deal.won_total", kinds) == set()

"""Fingerprint of a seeded demo database, to prove a faster seed writes the same data.

Not a test: a helper run by hand after ``seed_demo --customers 3000 --seed 42 --today 2026-01-15``
on a fresh database (``python tests/customer360/demo_fingerprint.py [--columns]``). Prints per table
the row count and an md5 over the rows in primary-key order; ``--columns`` prints one md5 per
column instead, to find the columns that differ between two runs of the same code (wall-clock
times, password salts). Those are left out of the row md5 (``VOLATILE``).
"""

from __future__ import annotations

import os
import sys

#: (table, column) whose value differs between two runs of the same code on the same seed (found
#: with ``--columns`` on two fresh seeds): wall-clock times of the run, password salts, the trained
#: models' timing metrics and file paths, a classifier's confidence. They prove nothing about the data.
VOLATILE: set[tuple[str, str]] = {
    ("analytics_categorymodelversion", "trained_at"),
    ("analytics_customerrisk", "updated_at"),
    ("analytics_customersentiment", "updated_at"),
    ("analytics_rollupstate", "watermark"),
    ("analytics_rollupstate", "refreshed_at"),
    ("analytics_suggestedcategory", "confidence"),
    ("analytics_suggestedcategory", "created_at"),
    ("analytics_topic", "created_at"),
    ("auth_user", "password"),
    ("auth_user", "date_joined"),
    ("billing_invoice", "updated_at"),
    ("collab_codeofconduct", "published_at"),
    ("collab_notification", "created_at"),
    ("collab_space", "created_at"),
    ("customer360_customer", "updated_at"),
    ("customer360_customerassignment", "created_at"),
    ("customer360_customeridentity", "created_at"),
    ("customer360_datasource", "created_at"),
    ("customer360_job", "created_at"),
    ("customer360_job", "started_at"),
    ("customer360_job", "finished_at"),
    ("customer360_score", "computed_at"),
    ("customer360_timelineevent", "recorded_at"),
    ("insights_customerscore", "scored_at"),
    ("insights_modelversion", "path"),
    ("insights_modelversion", "metrics"),
    ("insights_modelversion", "trained_at"),
    ("insights_recommendation", "created_at"),
    ("insights_recommendation", "scored_at"),
    ("insights_scoringrun", "created_at"),
    ("marketing_segment", "created_at"),
    ("marketing_segment", "updated_at"),
    # The payment-risk model's scores differ in their last digits from run to run.
    ("customer360_score", "value"),
    # Ties between equally common phrases are broken in set order: the same with PYTHONHASHSEED=0.
    ("analytics_topic", "label"),
}
#: Tables whose rows are written in an order that differs from run to run (their keys differ):
#: their rows are compared without the key, in the order of their contents.
UNORDERED = {"customer360_customerassignment"}


def _tables() -> list[tuple[str, str, list[str]]]:
    from django.apps import apps

    found = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.column for f in model._meta.concrete_fields]
        found.append((model._meta.db_table, model._meta.pk.column, columns))
    return sorted({(t, pk, tuple(c)) for t, pk, c in found})


def _column_md5s(cursor, table: str, pk: str, columns: list[str]) -> list[tuple[str, str]]:
    parts = ", ".join(
        f"md5(coalesce(string_agg(coalesce(\"{c}\"::text, '<null>'), '|' ORDER BY \"{pk}\"), ''))"
        for c in columns
    )
    cursor.execute(f'SELECT {parts} FROM "{table}"')  # noqa: S608 - names from model metadata
    return list(zip(columns, cursor.fetchone(), strict=True))


def _row_md5(cursor, table: str, pk: str, columns: list[str]) -> tuple[int, str]:
    kept = [c for c in columns if (table, c) not in VOLATILE and not (table in UNORDERED and c == pk)]
    row = "concat_ws('|', " + ", ".join(f"coalesce(\"{c}\"::text, '<null>')" for c in kept) + ")"
    order = row if table in UNORDERED else f'"{pk}"'
    cursor.execute(
        f"SELECT count(*), md5(coalesce(string_agg({row}, E'\\n' ORDER BY {order}), '')) FROM \"{table}\""  # noqa: S608
    )
    return cursor.fetchone()


def main(per_column: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table, pk, columns in _tables():
            if per_column:
                for column, digest in _column_md5s(cursor, table, pk, list(columns)):
                    print(f"{table}.{column} {digest}")
            else:
                count, digest = _row_md5(cursor, table, pk, list(columns))
                print(f"{table} {count} {digest}")


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings.base")
    import django

    django.setup()
    main("--columns" in sys.argv)

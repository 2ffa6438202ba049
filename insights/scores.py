"""The scores insights publishes into the core's score table on every scoring pass.

For every customer of the pass: each active action's propensity wherever the action's rules allow
it (whether or not it ranks among the recommendations, and for the random hold-out too), and the
learned outcomes (churn risk, payment risk) for everyone they apply to, with reasons in plain words.
Departments read them through ``customer360.scores``. Written set-based: on PostgreSQL one DELETE of
the pass's customers' scores and one COPY of the new rows, in the transaction that holds the
customers' row locks (so an incremental rescoring and a batch chunk never interleave).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Q

from customer360 import scores as published
from customer360.bulk import copy_in
from customer360.models import Score
from insights.reasons import model_reasons
from insights.training import predict

COLUMNS = ["customer_id", "kind", "value", "band", "model_version", "reasons"]
PRIOR = "prior"  # the model version of a propensity that is still the action's prior


def own_kinds() -> Q:
    """The score kinds insights writes (and so replaces on every pass)."""
    return (
        Q(kind__in=published.RISK_KINDS)
        | Q(kind__startswith=published.PROPENSITY_PREFIX)
        | Q(kind__startswith=published.OUTCOME_PREFIX)
    )


def bands(kind: str, values: np.ndarray) -> np.ndarray:
    medium, high = published.BANDS.get(kind, published.PROPENSITY_BANDS)
    return np.where(values >= high, "high", np.where(values >= medium, "medium", "low"))


def _part(customer_ids, kind: str, values: np.ndarray, version: str, reasons: list) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.asarray(customer_ids, dtype="int64"),
            "kind": kind,
            "value": values,
            "band": bands(kind, values),
            "model_version": version,
            "reasons": reasons,
        }
    )


def score_rows(frame: pd.DataFrame, catalogue, known: dict[int, pd.Series]) -> pd.DataFrame:
    """The rows to store for the customers of ``frame`` (see the module docstring)."""
    parts = []
    entries = {entry.action.pk: entry for entry in catalogue.entries}
    for action_id, values in known.items():
        entry = entries[action_id]
        version = entry.version.label if entry.version is not None else PRIOR
        ids = frame.loc[values.index, "customer_id"].to_numpy()
        kind = published.propensity_kind(entry.action.key)
        parts.append(_part(ids, kind, values.to_numpy(dtype=float), version, [[] for _ in range(len(ids))]))
    for key, (version, artifact) in catalogue.outcomes.items():
        outcome = catalogue.learned.get(key)
        if outcome is None:
            continue
        sub = frame[outcome.eligible(frame)]
        if sub.empty:
            continue
        values = np.clip(predict(artifact, sub), 0.0, 1.0)
        reasons = [
            [{"en": r["en"], "de": r["de"]} for r in items] for items in model_reasons(artifact, sub, top=3)
        ]
        parts.append(_part(sub["customer_id"].to_numpy(), key, values, version.label, reasons))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)


def write_scores(*, customer_ids: np.ndarray, rows: pd.DataFrame, now: datetime) -> int:
    """Replace the scores insights owns of ``customer_ids`` by ``rows``; returns the rows written."""
    ids = [int(c) for c in customer_ids]
    if connection.vendor != "postgresql":
        for start in range(0, len(ids), 500):
            Score.objects.filter(own_kinds(), customer_id__in=ids[start : start + 500]).delete()
        Score.objects.bulk_create(
            [
                Score(customer_id=int(r.customer_id), kind=r.kind, value=float(r.value), band=r.band,
                      model_version=r.model_version, reasons=r.reasons, computed_at=now)
                for r in rows.itertuples(index=False)
            ],
            batch_size=1000,
        )  # fmt: skip
        return len(rows)
    from psycopg.types.json import Jsonb

    table = Score._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE customer_id = ANY(%s) "  # noqa: S608
            "AND (kind = ANY(%s) OR kind LIKE %s OR kind LIKE %s)",
            [
                ids,
                list(published.RISK_KINDS),
                f"{published.PROPENSITY_PREFIX}%",
                f"{published.OUTCOME_PREFIX}%",
            ],
        )
        columns = ["customer_id", "kind", "value", "band", "model_version", "reasons", "computed_at"]
        copy_in(
            cursor,
            table,
            columns,
            [
                (cid, kind, value, band, version, Jsonb(reasons), now)
                for cid, kind, value, band, version, reasons in zip(
                    *(rows[c].tolist() for c in COLUMNS), strict=True
                )
            ],
        )
    return len(rows)

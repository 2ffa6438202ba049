"""The UCI "Bank Marketing" data (Moro, Cortez & Rita 2014) as customers with one past call each.

Every client row becomes a customer whose attributes are the columns known BEFORE the call (the
column ``duration`` is the length of the call itself, known only afterwards, and is never stored),
plus one "call.logged" event about a term deposit with the outcome ``y`` (accepted/declined).
The rows are in time order (May 2008 to November 2010); the calls get synthetic moments in that order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

EXCLUDED = ("duration",)  # known only after the call: using it would be cheating
TOPIC = "term_deposit"
START = datetime(2008, 5, 5, 9, 0, tzinfo=UTC)
SPAN_DAYS = 900


def read(path: Path, limit: int | None = None) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=";", nrows=limit)
    frame = frame.drop(columns=list(EXCLUDED))
    frame["contact_at"] = [
        START + timedelta(days=SPAN_DAYS * i / max(len(frame), 1)) for i in range(len(frame))
    ]
    return frame


def attributes_of(frame: pd.DataFrame) -> list[dict]:
    columns = [c for c in frame.columns if c not in ("y", "contact_at")]
    records = frame[columns].to_dict("records")
    return [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()} for r in records]


def frames(
    path: Path, limit: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Without a database: (points, customers, counts, state, labels) for ``compute_features``.

    Each point is the moment of the call; counts and state hold only events strictly before it,
    and in this data set there are none (the call itself is the label), so the features are the
    customer's own attributes and base facts, exactly as the database path computes them.
    """
    data = read(path, limit)
    ids = np.arange(1, len(data) + 1)
    contact = pd.to_datetime(data["contact_at"], utc=True)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "created_at": contact - pd.Timedelta(days=365),
            "lifecycle": "customer",
            "kind": "person",
            "country": "PT",
            "email": "",
            "phone": "x",
            "attributes": attributes_of(data),
            "owner_id": None,
        }
    )
    points = pd.DataFrame({"row": np.arange(len(data)), "customer_id": ids, "as_of": contact})
    counts = pd.DataFrame(columns=["row", "department", "kind", "n30", "n90", "n365", "last_at"])
    counts["last_at"] = pd.to_datetime(counts["last_at"], utc=True)
    from insights.features import PAYLOAD_FIELDS

    state = pd.DataFrame(columns=["row", "kind", "occurred_at", *PAYLOAD_FIELDS])
    state["occurred_at"] = pd.to_datetime(state["occurred_at"], utc=True)
    labels = data["y"].eq("yes").astype(int).to_numpy()
    return points, customers, counts, state, labels

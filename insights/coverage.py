"""Coverage of the published scores: of the customers eligible for a score kind, how many have one.

After a scoring run it is 100 % for every kind; ``outcome_evaluate`` and the benchmark print it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from customer360 import scores as published
from customer360.models import Score
from insights import outcomes
from insights.engine import eligible, load_catalogue
from insights.features import build_features


def coverage(kinds: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """``{kind: (eligible customers, of them with a stored score)}`` for the kinds insights writes
    (or the named ones); eligibility from a fresh feature frame (action rules, outcome eligibility)."""
    catalogue = load_catalogue()
    frame = build_features().reset_index(drop=True)
    nobody = pd.DataFrame(columns=["customer_id", "action_id"])
    masks = {
        published.propensity_kind(e.action.key): (lambda e=e: eligible(e, frame, catalogue.policy, nobody))
        for e in catalogue.entries
        if not e.action.is_no_contact
    }
    masks.update({key: (lambda o=o: o.eligible(frame)) for key, o in outcomes.all_outcomes().items()})
    result = {}
    for kind, mask in masks.items():
        if kinds is not None and kind not in kinds:
            continue
        wanted = frame.loc[np.asarray(mask(), dtype=bool), "customer_id"].astype("int64")
        have = set(Score.objects.filter(kind=kind).values_list("customer_id", flat=True))
        result[kind] = (len(wanted), int(wanted.isin(have).sum()))
    return result

"""Per-customer features across all departments: a registry and one vectorised builder.

The package is split by concern; the public names stay importable from ``insights.features``:

* :mod:`~insights.features.registry`: the named features (kind, label, words for reasons);
* :mod:`~insights.features.frames`: customers, event counts and state events from the database;
* :mod:`~insights.features.compute`: the pure-pandas builder shared by scoring and training.
"""

from insights.features.compute import (
    attribute_column,
    build_features,
    build_features_at,
    compute_features,
    model_columns,
)
from insights.features.frames import (
    COUNT_WINDOWS,
    DEPARTMENTS,
    PAYLOAD_FIELDS,
    counts_at,
    load_counts,
    load_customers,
    load_raw_events,
    load_state_events,
    state_at,
    state_kinds,
)
from insights.features.registry import (
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    Counts,
    Feature,
    FeatureRegistry,
    features,
)

__all__ = [
    "CONSENT_CHANNELS",
    "CONSENT_PURPOSES",
    "COUNT_WINDOWS",
    "DEPARTMENTS",
    "PAYLOAD_FIELDS",
    "Counts",
    "Feature",
    "FeatureRegistry",
    "attribute_column",
    "build_features",
    "build_features_at",
    "compute_features",
    "counts_at",
    "features",
    "load_counts",
    "load_customers",
    "load_raw_events",
    "load_state_events",
    "model_columns",
    "state_at",
    "state_kinds",
]

"""A seeded sample of training examples, stratified by label, over examples that come in chunks.

Each example gets a key hashed from (customer, moment) and the seed; per label the ``cap`` smallest
keys are kept while the chunks pass, so memory stays within two caps of rows however many examples
history holds. At the end each label gets its share of the cap (rounded, the remainders to the
largest fractions): the base rate, and so calibration, stays true. The same examples give the same
sample whatever their order or chunking.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["customer_id", "as_of", "label"]


class StratifiedSample:
    def __init__(self, cap: int, seed: int = 0) -> None:
        self.cap = cap
        self.seed = seed
        self.kept: dict[int, pd.DataFrame] = {}
        self.counts: dict[int, int] = {}

    @property
    def population(self) -> int:
        return sum(self.counts.values())

    def add(self, examples: pd.DataFrame) -> None:
        """Take a chunk of (customer_id, as_of, label) rows."""
        if examples.empty:
            return
        examples = examples[COLUMNS].astype({"customer_id": "int64", "label": "int64"})
        # The seed is hashed in as a column of its own (numbers are hashed without the hash key).
        keys = examples[["customer_id", "as_of"]].assign(_seed=self.seed)
        keyed = examples.assign(_key=pd.util.hash_pandas_object(keys, index=False).to_numpy())
        for label, part in keyed.groupby("label", sort=True):
            label = int(label)
            self.counts[label] = self.counts.get(label, 0) + len(part)
            previous = self.kept.get(label)
            both = part if previous is None else pd.concat([previous, part], ignore_index=True)
            self.kept[label] = _smallest(both, self.cap)

    def result(self) -> pd.DataFrame:
        """The sample in time order; ``attrs["population"]``: how many examples there were."""
        population = self.population
        labels = sorted(self.counts)
        if population > self.cap:
            counts = np.array([self.counts[label] for label in labels])
            shares = self.cap * counts / population
            sizes = np.floor(shares).astype(int)
            sizes[np.argsort(-(shares - sizes), kind="stable")[: self.cap - sizes.sum()]] += 1
        else:
            sizes = [self.counts[label] for label in labels]
        parts = [_smallest(self.kept[label], int(size)) for label, size in zip(labels, sizes, strict=True)]
        sample = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*COLUMNS, "_key"])
        sample = sample.drop(columns=["_key"]).sort_values(["as_of", "customer_id"], kind="stable")
        sample = sample.reset_index(drop=True)
        sample.attrs["population"] = population
        return sample


def _smallest(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` rows of smallest key (ties by customer and moment: independent of the row order)."""
    if len(frame) <= n and n:
        return frame
    return frame.sort_values(["_key", "customer_id", "as_of"], kind="stable").head(n)

"""The figures of a ``manage.py bench`` run, kept for the next run to compare with (issue #18: growth
factors from 100k to 1M customers on the same machine).

Every printed benchmark line gives one figure: its p95 in ms, else its rate (events/s, customers/s),
else its duration in seconds. They are saved as JSON (``var/bench-<customers>.json`` by default);
``--compare`` reads another run's file and prints each figure's growth factor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

_LABEL = re.compile(r"^(.*?\S)\s{2,}")
_MEASURES = [
    ("p95 ms", re.compile(r"p95=\s*([\d.,]+) ?ms")),
    ("p95 s", re.compile(r"p95=\s*([\d.,]+) s\b")),
    ("per s", re.compile(r"([\d.,]+) (?:events|customers|rows)/s")),
    ("s", re.compile(r"\bin ([\d.,]+) s\b")),
]


def figure(key: str, line: str) -> tuple[str, str, float] | None:
    """``(name, unit, value)`` of a printed line, or None when it carries no figure."""
    match = _LABEL.match(line)
    label = (match.group(1) if match else line[:40]).strip()
    for unit, pattern in _MEASURES:
        found = pattern.search(line)
        if found:
            return f"{key}: {label}", unit, float(found.group(1).replace(",", ""))
    return None


class Figures:
    def __init__(self, customers: int) -> None:
        self.customers = customers
        self.values: dict[str, dict] = {}

    def add(self, name: str, unit: str, value: float) -> None:
        self.values[name] = {"unit": unit, "value": value}

    def add_line(self, key: str, line: str) -> None:
        found = figure(key, line)
        if found:
            self.add(*found)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = json.loads(path.read_text()) if path.exists() else {}
        existing.setdefault("figures", {}).update(self.values)
        existing["customers"] = self.customers
        path.write_text(json.dumps(existing, indent=1, sort_keys=True))

    def growth(self, path: Path) -> list[str]:
        """One line per figure both runs have: the other run's value, this one's, and the factor."""
        other = json.loads(path.read_text())
        before = other.get("figures", {})
        lines = [f"growth from {other.get('customers', 0):,} to {self.customers:,} customers ({path.name}):"]
        for name, now in sorted(self.values.items()):
            then = before.get(name)
            if not then or then["unit"] != now["unit"] or not then["value"]:
                continue
            factor = now["value"] / then["value"]
            lines.append(
                f"  {name:<60} {then['value']:>10,.1f} -> {now['value']:>10,.1f} {now['unit']:<6} x{factor:.2f}"
            )
        return lines

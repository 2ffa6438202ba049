"""The seed refreshes the roll-ups in parts side by side (issue #18): the families of the records
beside the listening's mood, then the per-customer score roll-ups beside the other score families.
Together the parts write what one full refresh writes, each family in exactly one part."""

from __future__ import annotations

from collections import Counter

import pytest
import time_machine

from analytics import services
from analytics.models import CustomerConversion, CustomerRevenue, DailyRollup, SuccessDay
from tests.analytics.factories import TODAY, at, build_world

PARTS = [
    {"reads_scores": False, "reads_listening": False},
    {"reads_scores": False, "reads_listening": True},
    {"reads_scores": True, "per_customer": True},
    {"reads_scores": True, "per_customer": False},
]


def _rows() -> dict[str, Counter]:
    return {
        "daily": Counter(
            DailyRollup.objects.values_list("metric", "day", "key", "count", "amount", "owner_id")
        ),
        "revenue": Counter(CustomerRevenue.objects.values_list("customer_id", "day", "amount")),
        "conversions": Counter(CustomerConversion.objects.values_list("customer_id", "last_success_at")),
        "success": Counter(SuccessDay.objects.values_list("customer_id", "day", "previous_day", "holdout")),
    }


@pytest.mark.django_db
def test_the_seeds_parts_of_a_refresh_write_what_one_full_refresh_writes(rep, rep2):
    with time_machine.travel(at(TODAY), tick=False):
        build_world(rep, rep2)
        whole = services.rollups_refresh(full=True)
        rows = _rows()
        written: dict[str, int] = {}
        by_part = []
        for part in PARTS:
            wrote = services.rollups_refresh(full=True, **part)
            assert not set(wrote) & set(written), part  # each family in one part only
            written.update(wrote)
            by_part.append(set(wrote))
    assert written == whole
    assert _rows() == rows
    assert rows["daily"] and rows["revenue"] and rows["conversions"]
    assert by_part[1] == {"listening.mood"}
    assert "billing.customer_revenue" in by_part[0] and "listening.mood" not in by_part[0]
    assert {"nba.conversion", "nba.success_days", "nba.converted"} <= by_part[2]
    assert "nba.converted" not in by_part[3] and "customers.churn_band" in by_part[3]

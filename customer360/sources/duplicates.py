"""The fuzzy matcher: customers that are probably the same person, proposed for review.

Customers are blocked by place (postcode, else the city with its aliases) and the first letter of
the loosely folded last name, and compared inside a block with rapidfuzz on the folded names. The
birth date, when both have one, must agree. Pairs above the threshold go into the queue once.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from rapidfuzz import fuzz

from customer360.models import Customer
from customer360.sources.models import DuplicateCandidate
from customer360.text import fold, fold_loose

THRESHOLD = 88.0

# Cities known under more than one name (folded). Extend as data shows up.
CITY_ALIASES = {
    "vienna": "wien",
    "vienne": "wien",
    "munich": "muenchen",
    "cologne": "koeln",
    "nuremberg": "nuernberg",
    "salzburg stadt": "salzburg",
    "linz an der donau": "linz",
    "graz stadt": "graz",
    "innsbruck stadt": "innsbruck",
    "zurich": "zuerich",
    "geneva": "geneve",
    "prague": "praha",
}


def city_key(city: str) -> str:
    folded = fold(city)
    return CITY_ALIASES.get(folded, folded)


def name_of(first: str, last: str, company: str) -> str:
    return fold_loose(f"{first} {last}".strip() or company)


def _block_key(row: dict) -> str | None:
    place = (row["postcode"] or "").strip() or city_key(row["city"] or "")
    last = fold_loose(row["last_name"] or row["company"] or "")
    if not place or not last:
        return None
    return f"{place}|{last[0]}"


def score_pair(a: dict, b: dict) -> tuple[float, str]:
    """Score 0-100 and the reason in words (name similarity, place, birth date)."""
    if a["birth_date"] and b["birth_date"] and a["birth_date"] != b["birth_date"]:
        return 0.0, ""
    name_a = name_of(a["first_name"], a["last_name"], a["company"])
    name_b = name_of(b["first_name"], b["last_name"], b["company"])
    score = fuzz.token_sort_ratio(name_a, name_b)
    reasons = [f"name {score:.0f}%"]
    same_city = a["city"] and b["city"] and city_key(a["city"]) == city_key(b["city"])
    if a["postcode"] and a["postcode"] == b["postcode"]:
        reasons.append(f"postcode {a['postcode']}")
    if same_city:
        reasons.append("same city")
    elif a["city"] and b["city"]:
        score -= 10  # same postcode, different city: likely a different place
    if a["birth_date"] and a["birth_date"] == b["birth_date"]:
        score = min(100.0, score + 5)
        reasons.append("same birth date")
    return float(score), ", ".join(reasons)


def duplicates_find(*, customer_ids: list[int] | None = None, threshold: float = THRESHOLD) -> int:
    """Add likely duplicate pairs to the review queue; return how many new pairs were proposed.

    With ``customer_ids``, only pairs involving those customers are considered.
    """
    fields = ("id", "first_name", "last_name", "company", "postcode", "city", "birth_date")
    blocks: dict[str, list[dict]] = defaultdict(list)
    for row in Customer.objects.values(*fields).iterator(chunk_size=5000):
        key = _block_key(row)
        if key:
            blocks[key].append(row)
    wanted = set(customer_ids) if customer_ids is not None else None
    proposals: list[DuplicateCandidate] = []
    for members in blocks.values():
        if len(members) < 2 or (wanted is not None and not any(m["id"] in wanted for m in members)):
            continue
        for a, b in combinations(members, 2):
            if wanted is not None and a["id"] not in wanted and b["id"] not in wanted:
                continue
            score, reason = score_pair(a, b)
            if score >= threshold:
                low, high = sorted((a["id"], b["id"]))
                proposals.append(
                    DuplicateCandidate(
                        customer_a_id=low, customer_b_id=high, score=score, reason=reason[:200]
                    )
                )
    before = DuplicateCandidate.objects.count()
    DuplicateCandidate.objects.bulk_create(proposals, ignore_conflicts=True, batch_size=2000)
    return DuplicateCandidate.objects.count() - before

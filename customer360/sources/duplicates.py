"""The duplicate finder: customers that are probably the same person, proposed for review.

Two ways make a pair a candidate:

* a shared strong identifier, with or without names: the same tax/VAT id, e-mail or phone on two
  customers, or the same customer id in two sources that were not declared to share their ids
  (the shop's customer 4711 and the ERP's 4711). Names, when both have one, only confirm or
  contradict (a different name lowers the score);
* similar names in one place: customers are blocked by place (postcode, else the city with its
  aliases) and the first letter of the loosely folded last name, and compared inside a block with
  rapidfuzz on the folded names. The birth date, when both have one, must agree.

Each basis has its own threshold, learned from the review queue's decisions (:func:`thresholds`).
After an import only what is new is compared (:func:`duplicates_find_new`): the identifiers added
since the last scan find their partners through an index, never by reading every customer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from django.core.cache import cache
from django.db.models import Max, Q
from rapidfuzz import fuzz

from customer360.models import Customer, CustomerIdentity
from customer360.sources.models import DuplicateCandidate
from customer360.text import fold, fold_loose, normalise_email

THRESHOLD = 88.0
Basis = DuplicateCandidate.Basis

#: Score of a pair that shares an identifier of this kind (before the names are compared).
IDENTIFIER_SCORES = {Basis.TAX_ID: 97.0, Basis.EMAIL: 95.0, Basis.PHONE: 90.0, Basis.EXTERNAL_ID: 85.0}
DEFAULT_THRESHOLDS = {Basis.NAME: THRESHOLD, **dict.fromkeys(IDENTIFIER_SCORES, 80.0)}
#: Decisions a basis needs before its threshold moves away from the default.
MIN_DECISIONS = 5
#: A value that more customers share than this is no identifier (a placeholder like "0" or "n/a").
MAX_SHARING = 20
_SCAN_BATCH = 5000
_WATERMARK = "c360:duplicates:watermark"

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
_FIELDS = ("id", "first_name", "last_name", "company", "postcode", "city", "birth_date", "email", "phone")


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


def score_identifier_pair(basis: str, a: dict, b: dict) -> tuple[float, str]:
    """A pair sharing an identifier: its kind's score, confirmed or lowered by the names."""
    score = IDENTIFIER_SCORES[basis]
    reasons = [_IDENTIFIER_REASONS[basis]]
    if a["birth_date"] and b["birth_date"] and a["birth_date"] != b["birth_date"]:
        score -= 30
    name_a = name_of(a["first_name"], a["last_name"], a["company"])
    name_b = name_of(b["first_name"], b["last_name"], b["company"])
    if name_a and name_b:
        similarity = fuzz.token_sort_ratio(name_a, name_b)
        reasons.append(f"name {similarity:.0f}%")
        if similarity >= 85:
            score += 10
        elif similarity < 50:
            score -= 30  # the same number, but evidently two different people
    return float(max(0.0, min(100.0, score))), ", ".join(reasons)


_IDENTIFIER_REASONS = {
    Basis.TAX_ID: "same tax id",
    Basis.EMAIL: "same e-mail",
    Basis.PHONE: "same phone",
    Basis.EXTERNAL_ID: "same customer id in two sources",
}


# --- Thresholds learned from the queue's decisions ------------------------------------------------
@dataclass
class Threshold:
    """The bar a basis' score must reach, and what it was learned from."""

    basis: str
    value: float
    default: float
    merged: int = 0
    dismissed: int = 0

    @property
    def learned(self) -> bool:
        return self.value != self.default

    @property
    def label(self) -> str:
        return Basis(self.basis).label


def thresholds() -> dict[str, Threshold]:
    """Per basis: the default threshold, moved by the admins' decisions once there are
    :data:`MIN_DECISIONS` of them. Every proposal merged: the bar drops by 5 (more like these
    are worth seeing). Some rejected: the bar is the lowest that would have kept every rejected
    pair out while losing the fewest merged ones."""
    decided: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    rows = (
        DuplicateCandidate.objects.filter(
            status__in=(DuplicateCandidate.Status.MERGED, DuplicateCandidate.Status.DISMISSED)
        )
        .order_by("-decided_at", "-id")
        .values_list("basis", "score", "status")[:5000]
    )
    for basis, score, status in rows:
        decided[basis].append((score, status == DuplicateCandidate.Status.MERGED))
    result = {}
    for basis, default in DEFAULT_THRESHOLDS.items():
        pairs = decided.get(basis, [])
        merged = sum(1 for _score, ok in pairs if ok)
        result[basis] = Threshold(
            basis, _learned_value(pairs, default), default, merged=merged, dismissed=len(pairs) - merged
        )
    return result


def _learned_value(pairs: list[tuple[float, bool]], default: float) -> float:
    if len(pairs) < MIN_DECISIONS:
        return default
    rejected = [score for score, ok in pairs if not ok]
    if not rejected:
        return max(50.0, default - 5)
    options = sorted({default, *(score for score, _ok in pairs), *(score + 0.5 for score in rejected)})

    def errors(bar: float) -> int:
        return sum(1 for score, ok in pairs if (score >= bar) != ok)

    best = min(errors(bar) for bar in options)
    return min(100.0, max(50.0, min(bar for bar in options if errors(bar) == best)))


# --- Finding pairs --------------------------------------------------------------------------------
def _tokens_of_identities(rows) -> dict[tuple[str, str], set[int]]:
    """``(basis, value) -> customers`` from identity rows (kind, value, customer id)."""
    owners: dict[tuple[str, str], set[int]] = defaultdict(set)
    for kind, value, customer_id in rows:
        owners[(kind, value)].add(customer_id)
    return owners


def _add_column_tokens(owners: dict, rows) -> None:
    """The customers' own e-mail and phone columns count like their identities."""
    for customer_id, email, phone in rows:
        if email:
            owners[(Basis.EMAIL.value, normalise_email(email))].add(customer_id)
        if phone:
            owners[(Basis.PHONE.value, phone)].add(customer_id)


_STRENGTH = [Basis.TAX_ID, Basis.EMAIL, Basis.EXTERNAL_ID, Basis.PHONE]


def _identifier_pairs(owners: dict, wanted: set[int] | None) -> dict[tuple[int, int], str]:
    """``(low id, high id) -> strongest shared basis`` of customers sharing a value."""
    pairs: dict[tuple[int, int], str] = {}
    for (basis, _value), customers in owners.items():
        if len(customers) < 2 or len(customers) > MAX_SHARING:
            continue
        for a, b in combinations(sorted(customers), 2):
            if wanted is not None and a not in wanted and b not in wanted:
                continue
            known = pairs.get((a, b))
            if known is None or _STRENGTH.index(basis) < _STRENGTH.index(known):
                pairs[(a, b)] = basis
    return pairs


def _all_owners() -> dict:
    owners = _tokens_of_identities(
        CustomerIdentity.objects.values_list("kind", "value", "customer_id").iterator(chunk_size=_SCAN_BATCH)
    )
    _add_column_tokens(
        owners,
        Customer.objects.exclude(email="", phone="")
        .values_list("id", "email", "phone")
        .iterator(chunk_size=_SCAN_BATCH),
    )
    return owners


def _owners_around(wanted: set[int]) -> dict:
    """The identifier values of ``wanted`` customers and every customer holding one of them:
    index look-ups by value, whatever the size of the customer table."""
    ids = list(wanted)
    own_identities, own_columns = [], []
    for start in range(0, len(ids), _SCAN_BATCH):
        part = ids[start : start + _SCAN_BATCH]
        own_identities += CustomerIdentity.objects.filter(customer_id__in=part).values_list(
            "kind", "value", "customer_id"
        )
        own_columns += Customer.objects.filter(pk__in=part).values_list("id", "email", "phone")
    # Their own e-mail and phone columns are looked up among the identities too (by the value
    # index); other customers' columns are not read here (no index): the full scan covers them.
    values = sorted(
        {value for _kind, value, _cid in own_identities}
        | {normalise_email(e) for _cid, e, _p in own_columns if e}
        | {p for _cid, _e, p in own_columns if p}
    )
    others = []
    for start in range(0, len(values), _SCAN_BATCH):
        others += CustomerIdentity.objects.filter(value__in=values[start : start + _SCAN_BATCH]).values_list(
            "kind", "value", "customer_id"
        )
    owners = _tokens_of_identities([*own_identities, *others])
    _add_column_tokens(owners, own_columns)
    return owners


def _same_places(wanted: set[int]):
    """Customers in the places of ``wanted`` (their postcodes, else their cities under every
    known name): the only ones a name comparison with them can pair."""
    ids = list(wanted)
    postcodes, cities = set(), set()
    for start in range(0, len(ids), _SCAN_BATCH):
        for postcode, city in Customer.objects.filter(pk__in=ids[start : start + _SCAN_BATCH]).values_list(
            "postcode", "city"
        ):
            if (postcode or "").strip():
                postcodes.add(postcode)
            elif city:
                key = city_key(city)
                names = {city, key, *(alias for alias, k in CITY_ALIASES.items() if k == key)}
                cities |= names | {n.title() for n in names} | {n.upper() for n in names}
    found = Q(postcode__in=sorted(postcodes)) if postcodes else Q(pk__in=[])
    if cities:
        found |= Q(postcode="", city__in=sorted(cities))
    return Customer.objects.filter(found)


def _name_pairs(wanted: set[int] | None) -> list[tuple[dict, dict]]:
    blocks: dict[str, list[dict]] = defaultdict(list)
    customers = Customer.objects.all() if wanted is None else _same_places(wanted)
    for row in customers.values(*_FIELDS).iterator(chunk_size=_SCAN_BATCH):
        key = _block_key(row)
        if key:
            blocks[key].append(row)
    found = []
    for members in blocks.values():
        if len(members) < 2 or (wanted is not None and not any(m["id"] in wanted for m in members)):
            continue
        for a, b in combinations(members, 2):
            if wanted is None or a["id"] in wanted or b["id"] in wanted:
                found.append((a, b))
    return found


def duplicates_find(
    *, customer_ids: list[int] | None = None, threshold: float | None = None, by_name: bool = True
) -> int:
    """Add likely duplicate pairs to the review queue; return how many new pairs were proposed.

    With ``customer_ids``, only pairs involving those customers are considered; ``threshold``
    overrides the learned name threshold; ``by_name=False`` compares identifiers only.
    """
    wanted = set(customer_ids) if customer_ids is not None else None
    bars = {basis: t.value for basis, t in thresholds().items()}
    if threshold is not None:
        bars[Basis.NAME] = threshold
    owners = _all_owners() if wanted is None else _owners_around(wanted)
    id_pairs = _identifier_pairs(owners, wanted)
    proposals: dict[tuple[int, int], DuplicateCandidate] = {}
    involved = sorted({cid for pair in id_pairs for cid in pair})
    rows: dict[int, dict] = {}
    for start in range(0, len(involved), _SCAN_BATCH):
        part = involved[start : start + _SCAN_BATCH]
        rows.update({row["id"]: row for row in Customer.objects.filter(pk__in=part).values(*_FIELDS)})
    for (low, high), basis in id_pairs.items():
        if low in rows and high in rows:
            score, reason = score_identifier_pair(basis, rows[low], rows[high])
            if score >= bars[basis]:
                proposals[(low, high)] = _candidate(low, high, score, reason, basis)
    if by_name:
        for a, b in _name_pairs(wanted):
            low, high = sorted((a["id"], b["id"]))
            if (low, high) in proposals:
                continue
            score, reason = score_pair(a, b)
            if score >= bars[Basis.NAME]:
                proposals[(low, high)] = _candidate(low, high, score, reason, Basis.NAME)
    before = DuplicateCandidate.objects.count()
    DuplicateCandidate.objects.bulk_create(list(proposals.values()), ignore_conflicts=True, batch_size=2000)
    return DuplicateCandidate.objects.count() - before


def _candidate(low: int, high: int, score: float, reason: str, basis: str) -> DuplicateCandidate:
    return DuplicateCandidate(
        customer_a_id=low, customer_b_id=high, score=score, reason=reason[:200], basis=basis
    )


def duplicates_find_new() -> int:
    """After an import: compare only the customers and identifiers added since the last scan
    (a watermark of the highest ids seen); without a watermark, everything once."""
    top = {
        "customer": Customer.objects.aggregate(top=Max("pk"))["top"] or 0,
        "identity": CustomerIdentity.objects.aggregate(top=Max("pk"))["top"] or 0,
    }
    mark = cache.get(_WATERMARK)
    if not mark:
        proposed = duplicates_find()
    else:
        touched = set(
            CustomerIdentity.objects.filter(pk__gt=mark["identity"], pk__lte=top["identity"]).values_list(
                "customer_id", flat=True
            )
        )
        touched |= set(
            Customer.objects.filter(pk__gt=mark["customer"], pk__lte=top["customer"]).values_list(
                "pk", flat=True
            )
        )
        proposed = duplicates_find(customer_ids=sorted(touched)) if touched else 0
    cache.set(_WATERMARK, top, timeout=None)
    return proposed

"""Identity resolution: which customer an incoming row belongs to, in bulk and safe under races.

A row finds its customer by exact identifiers: the external id of its source, the ids of other
sources its row carries (a CRM export's "shop id" column), the normalised tax/VAT id, e-mail
address and the phone number in E.164. Tax ids, e-mails and phones mean the same in every source;
an external id belongs to its source, unless the admin declared that the source's customer ids ARE
another source's (``DataSource.shares_ids_with``): then both look up one identity. Without a match
a row becomes a new customer. Two imports
running at the same time cannot create the same customer twice: the unique constraint on
``CustomerIdentity(kind, source, value)`` decides (insert with ON CONFLICT DO NOTHING, re-read,
and a customer that lost the race is folded into the winner before its transaction commits).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from customer360 import bulk
from customer360.models import (
    Customer,
    CustomerIdentity,
    DataSource,
    customer_deletion_allowed,
    next_customer_number,
)
from customer360.text import normalise_tax_id

Key = tuple[str, str, str]  # (kind, source, value)

#: Customer columns an import may fill (attributes is merged separately).
CUSTOMER_FIELDS = (
    "kind",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "country",
    "birth_date",
    "preferred_language",
    "lifecycle",
)


# Plain strings, not the enum members: keys are hashed for every row of every import, and an enum
# member hashes in Python, a str in C.
_EXTERNAL_ID = CustomerIdentity.Kind.EXTERNAL_ID.value
_EMAIL = CustomerIdentity.Kind.EMAIL.value
_PHONE = CustomerIdentity.Kind.PHONE.value
_TAX_ID = CustomerIdentity.Kind.TAX_ID.value

#: Mapping group of "this column holds source Y's id": ``ids.<slug of Y>``.
IDS_GROUP = "ids"

# slug -> the slug whose customer ids it shares, with the time it was read. The worker reads it
# afresh for every batch it resolves (``resolve``); between batches a few seconds old is fine.
_NAMESPACE_SECONDS = 5.0
_namespaces: tuple[float, dict[str, str]] = (float("-inf"), {})


def id_namespaces(*, fresh: bool = False) -> dict[str, str]:
    """Sources whose customer ids are another source's: ``{slug: slug of the id owner}``
    (chains followed to their end: the shop's ids are the ERP's, the CRM's the shop's)."""
    global _namespaces
    read_at, known = _namespaces
    if fresh or time.monotonic() - read_at > _NAMESPACE_SECONDS:
        pairs = dict(
            DataSource.objects.filter(shares_ids_with__isnull=False).values_list(
                "slug", "shares_ids_with__slug"
            )
        )
        known = {}
        for slug, owner in pairs.items():
            seen = {slug}
            while owner in pairs and owner not in seen:
                seen.add(owner)
                owner = pairs[owner]
            if owner != slug:
                known[slug] = owner
        _namespaces = (time.monotonic(), known)
    return known


def namespace_of(source_slug: str) -> str:
    """The ``CustomerIdentity.source`` under which this source's external ids are kept."""
    return id_namespaces().get(source_slug, source_slug)


def identity_keys(values: dict, source_slug: str, namespaces: dict[str, str] | None = None) -> list[Key]:
    """The exact identifiers of a mapped row, strongest first."""
    spaces = id_namespaces() if namespaces is None else namespaces
    keys: list[Key] = []
    if external_id := values.get("external_id"):
        keys.append((_EXTERNAL_ID, spaces.get(source_slug, source_slug), str(external_id)[:255]))
    if linked := values.get(IDS_GROUP):
        for other, value in linked.items():
            if value not in (None, ""):
                keys.append((_EXTERNAL_ID, spaces.get(other, other), str(value)[:255]))
    if (tax_id := values.get("tax_id")) and (tax_id := normalise_tax_id(str(tax_id))):
        keys.append((_TAX_ID, "", tax_id[:255]))
    if email := values.get("email"):
        keys.append((_EMAIL, "", str(email)[:255]))
    if phone := values.get("phone"):
        keys.append((_PHONE, "", str(phone)[:255]))
    return keys


def lookup(keys: set[Key]) -> dict[Key, int]:
    """Customer id per known identifier (one query per identifier kind and source)."""
    found: dict[Key, int] = {}
    by_group: dict[tuple[str, str], list[str]] = {}
    for kind, source, value in keys:
        by_group.setdefault((kind, source), []).append(value)
    for (kind, source), values in by_group.items():
        for start in range(0, len(values), 5000):
            rows = CustomerIdentity.objects.filter(
                kind=kind, source=source, value__in=values[start : start + 5000]
            ).values_list("value", "customer_id")
            for value, customer_id in rows:
                found[(kind, source, value)] = customer_id
    return found


def new_customer(values: dict) -> Customer:
    """An unsaved customer from mapped values, normalised like ``Customer.save`` would."""
    customer = Customer(**{f: values[f] for f in CUSTOMER_FIELDS if values.get(f) not in (None, "")})
    customer.attributes = dict(values.get("attributes") or {})
    if values.get("lifecycle") in (None, ""):
        customer.lifecycle = Customer.Lifecycle.CUSTOMER
    customer.search_key = customer.build_search_key()
    return customer


def _create_customers(customers: list[Customer]) -> None:
    """Bulk-insert with fresh customer numbers; a concurrent import taking the same numbers
    makes the savepoint fail, and the next attempt starts after the numbers now committed."""
    for attempt in range(8):
        start = int(next_customer_number().split("-", 1)[1]) + attempt * 7
        for offset, customer in enumerate(customers):
            customer.customer_number = f"C-{start + offset:06d}"
        try:
            with transaction.atomic():
                # COPY with ids from the sequence: the rows' primary keys are known for the identities.
                bulk.bulk_insert(customers, with_ids=True)
            return
        except IntegrityError:
            for customer in customers:
                customer.pk = None
                customer.id = None
    raise IntegrityError("could not allocate customer numbers")


def _match(
    keys_per_row: list, found: dict, create: bool
) -> tuple[list[tuple[int | None, bool]], list[list[int]]]:
    """Rows matched to existing customers, and groups of the other rows that share an identifier
    (each group becomes one new customer)."""
    result: list[tuple[int | None, bool]] = [(None, False)] * len(keys_per_row)
    group_of_key: dict[Key, int] = {}
    groups: list[list[int]] = []  # row indexes that will share one new customer
    attached: dict[Key, int] = {}  # identifiers this batch attaches to existing customers
    for index, keys in enumerate(keys_per_row):
        match = next((found.get(k) or attached.get(k) for k in keys if k in found or k in attached), None)
        if match is not None:
            result[index] = (match, False)
            for key in keys:
                if key not in found:
                    attached.setdefault(key, match)
            continue
        if not keys or not create:
            continue
        group = next((group_of_key[k] for k in keys if k in group_of_key), None)
        if group is None:
            group = len(groups)
            groups.append([])
        groups[group].append(index)
        for key in keys:
            group_of_key.setdefault(key, group)
    return result, groups


def _attach_new_identifiers(keys_per_row: list, result: list, found: dict) -> dict[Key, int]:
    """Every identifier not yet known is attached to the row's customer. Sorted, so concurrent
    imports take the unique-index locks in the same order and cannot deadlock each other."""
    pending: dict[Key, int] = {}
    for index, keys in enumerate(keys_per_row):
        customer_id = result[index][0]
        if customer_id is None:
            continue
        for key in keys:
            if key not in found:
                pending.setdefault(key, customer_id)
    if pending:
        bulk.bulk_insert(
            (
                CustomerIdentity(customer_id=cid, kind=k[0], source=k[1], value=k[2])
                for k, cid in sorted(pending.items())
            ),
            ignore_conflicts=True,
        )
    return pending


def _settle_races(pending: dict[Key, int], new_ids: set[int], result: list) -> list:
    """Did another import win a race for one of our new customers' identifiers? Then use its
    customer and fold ours (with whatever identifiers it did get) into it."""
    owners = lookup(set(pending))
    winners: dict[int, int] = {}
    for key, intended in pending.items():
        owner = owners.get(key)
        if intended in new_ids and owner is not None and owner != intended:
            winners.setdefault(intended, owner)
    if not winners:
        return result
    for loser, winner in winners.items():
        CustomerIdentity.objects.filter(customer_id=loser).update(customer_id=winner)
    with customer_deletion_allowed():  # fresh customers of this batch, identities moved above
        Customer.objects.filter(pk__in=list(winners)).delete()
    return [(winners[cid], False) if cid in winners else (cid, created) for cid, created in result]


def resolve(
    rows: Sequence[dict],
    *,
    source_slug: str,
    create: bool = True,
    keys_per_row: Sequence[tuple] | None = None,
) -> list[tuple[int | None, bool]]:
    """``(customer id, created)`` for every row (``None`` when the row has no identifier or
    ``create`` is false and nothing matched). Call inside a transaction.

    ``keys_per_row``: the rows' ``identity_keys`` as tuples, when the caller computed them already
    (with ``id_namespaces(fresh=True)`` read for this batch, as done here otherwise)."""
    if not rows:
        return []
    if keys_per_row is None:
        spaces = id_namespaces(fresh=True)
        keys_per_row = [tuple(identity_keys(values, source_slug, spaces)) for values in rows]
    # A file or a request names each customer many times: each set of identifiers is resolved once
    # (with its first row, which is also the row a new customer is made from).
    first: dict[tuple, int] = {}
    for index, keys in enumerate(keys_per_row):
        first.setdefault(keys, index)
    if len(first) == len(rows):
        return _resolve(keys_per_row, rows, create)
    resolved = dict(zip(first, _resolve(list(first), [rows[i] for i in first.values()], create), strict=True))
    return [resolved[keys] for keys in keys_per_row]


def _resolve(keys_per_row: list[tuple], rows: Sequence[dict], create: bool) -> list[tuple[int | None, bool]]:
    found = lookup({key for keys in keys_per_row for key in keys})
    result, groups = _match(keys_per_row, found, create)
    customers = [new_customer(rows[members[0]]) for members in groups]
    if customers:
        _create_customers(customers)
    for members, customer in zip(groups, customers, strict=True):
        for index in members:
            result[index] = (customer.pk, True)
    pending = _attach_new_identifiers(keys_per_row, result, found)
    if not customers:
        return result
    return _settle_races(pending, {c.pk for c in customers}, result)


def identities_rekey() -> dict[str, int]:
    """Declared after the fact: the external ids kept under a source that now shares another
    source's ids move to that source's namespace, so the next rows find them. Where the other
    source already knows the id for another customer, the two are proposed as duplicates (score
    100) instead: merging them is the admin's decision. Returns ``{"moved": n, "proposed": m}``."""
    from customer360.sources.models import DuplicateCandidate

    spaces = id_namespaces(fresh=True)
    moved = proposed = 0
    for slug, owner in spaces.items():
        mine = CustomerIdentity.objects.filter(kind=_EXTERNAL_ID, source=slug)
        while batch := list(mine.order_by("pk").values_list("pk", "value", "customer_id")[:5000]):
            theirs = dict(
                CustomerIdentity.objects.filter(
                    kind=_EXTERNAL_ID, source=owner, value__in=[value for _pk, value, _cid in batch]
                ).values_list("value", "customer_id")
            )
            free = [pk for pk, value, _cid in batch if value not in theirs]
            clashes = [(cid, theirs[value]) for _pk, value, cid in batch if value in theirs]
            with transaction.atomic():
                CustomerIdentity.objects.filter(pk__in=free).update(source=owner)
                # The other's identity stays where it is; ours is the same id twice: it goes.
                CustomerIdentity.objects.filter(
                    pk__in=[pk for pk, value, _cid in batch if value in theirs]
                ).delete()
                pairs = {tuple(sorted(pair)) for pair in clashes if pair[0] != pair[1]}
                DuplicateCandidate.objects.bulk_create(
                    [
                        DuplicateCandidate(
                            customer_a_id=a,
                            customer_b_id=b,
                            score=100.0,
                            reason="same customer id in two sources",
                            basis=DuplicateCandidate.Basis.EXTERNAL_ID,
                        )
                        for a, b in sorted(pairs)
                    ],
                    ignore_conflicts=True,
                )
            moved += len(free)
            proposed += len(pairs)
    return {"moved": moved, "proposed": proposed}

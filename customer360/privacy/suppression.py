"""The suppression list: identifiers of erased people as keyed hashes, checked on every way in.

An erased person must not come back with the next import. Their e-mail (lower case), phone
(E.164 digits) and external ids (with the data source they belong to) are kept as HMAC-SHA256
digests only, so the list itself reveals nobody; a row arriving by file import, the bulk API or a
webhook is hashed the same way and refused when it matches ("suppressed by erasure request N").

The key is ``settings.C360_SUPPRESSION_KEY`` (environment ``C360_SUPPRESSION_KEY``), or one
derived from ``SECRET_KEY`` when unset. Changing the key empties the list in effect: set it once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from django.conf import settings
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from customer360.privacy.models import SuppressionEntry
from customer360.sources import identity

_KINDS = {kind.value for kind in SuppressionEntry.Kind}


def _key() -> bytes:
    configured = getattr(settings, "C360_SUPPRESSION_KEY", "")
    if configured:
        return configured.encode()
    return salted_hmac("customer360.privacy.suppression", "key").digest()


def canonical(kind: str, value: str) -> str:
    """The form that is hashed: e-mail in lower case, phone as E.164 digits, ids trimmed."""
    value = str(value or "").strip()
    if kind == SuppressionEntry.Kind.EMAIL:
        return value.lower()
    if kind == SuppressionEntry.Kind.PHONE:
        return re.sub(r"\D", "", value)
    return value


def digest(kind: str, source: str, value: str, *, key: bytes | None = None) -> str:
    """HMAC-SHA256 of ``kind, source, canonical value``; e-mail and phone have no source."""
    source = source if kind == SuppressionEntry.Kind.EXTERNAL_ID else ""
    message = "\x1f".join((kind, source, canonical(kind, value))).encode()
    return hmac.new(key or _key(), message, hashlib.sha256).hexdigest()


def _digests_of_keys(keys: Iterable[tuple[str, str, str]], key: bytes, known: dict) -> list[str]:
    """Digests of identity keys; ``known`` remembers them (a file names each customer many times)."""
    found = []
    for item in keys:
        if item[0] in _KINDS and item[2]:
            value = known.get(item)
            if value is None:
                value = known[item] = digest(*item, key=key)
            found.append(value)
    return found


def suppress(*, request, identifiers: Iterable[tuple[str, str, str]]) -> int:
    """Add ``(kind, source, value)`` identifiers to the list for ``request``; returns new entries."""
    entries = {
        digest(kind, source, value): kind
        for kind, source, value in identifiers
        if kind in _KINDS and canonical(kind, value)
    }
    before = SuppressionEntry.objects.filter(digest__in=list(entries)).count()
    SuppressionEntry.objects.bulk_create(
        [SuppressionEntry(kind=kind, digest=d, request=request) for d, kind in entries.items()],
        ignore_conflicts=True,
    )
    return len(entries) - before


def matches(digests: Iterable[str]) -> dict[str, int]:
    """Erasure request id per suppressed digest, in one query."""
    wanted = list(set(digests))
    if not wanted:
        return {}
    return dict(SuppressionEntry.objects.filter(digest__in=wanted).values_list("digest", "request_id"))


def suppressed_message(request_id: int) -> str:
    return _("suppressed by erasure request %(number)s") % {"number": request_id}


def is_empty() -> bool:
    """Nobody was erased yet (one indexed query): callers may skip per-row checks altogether."""
    return not SuppressionEntry.objects.exists()


def filter_rows(rows: list, *, source_slug: str) -> tuple[list, dict[int, str]]:
    """Split prepared rows (anything with ``.values``) into the rows that may be written and the
    refused ones: ``(kept rows, {position in rows: reason})``. One lookup per call, whatever the
    number of rows; the single place imports, the bulk API and webhooks check the list."""
    if is_empty():  # nobody was erased: nothing to hash and compare
        return list(rows), {}
    key, known = _key(), {}
    per_row = [_digests_of_keys(identity.identity_keys(row.values, source_slug), key, known) for row in rows]
    found = matches(d for digests in per_row for d in digests)
    if not found:
        return list(rows), {}
    kept, refused = [], {}
    for position, (row, digests) in enumerate(zip(rows, per_row, strict=True)):
        hit = next((found[d] for d in digests if d in found), None)
        if hit is None:
            kept.append(row)
        else:
            refused[position] = suppressed_message(hit)
    return kept, refused

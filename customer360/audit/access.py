"""The access log: one function records an access, one reads what was accessed about a person.

Opening a 360 page, every export and every API read of customer data by a personal token calls
:func:`record_access`. The rows are append-only (``customer360.audit.models``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from customer360.audit.models import AccessLog, AccessLogCustomer
from customer360.signin.security_log import client_ip

Action = AccessLog.Action


def _address(request) -> str | None:
    address = client_ip(request) if request is not None else None
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def _token_id(request) -> int | None:
    from customer360.models import ApiToken

    auth = getattr(request, "auth", None)
    return auth.pk if isinstance(auth, ApiToken) else None


def record_access(
    request,
    action: str,
    *,
    customers: Iterable[int] = (),
    rows: int | None = None,
    what: str = "",
    user=None,
) -> AccessLog:
    """Write one access-log row: ``request``'s user (or ``user``), ``action`` (:class:`AccessLog.Action`),
    the customers concerned (ids; at most ``C360_ACCESS_LOG_MAX_IDS`` are named, all are counted),
    the rows handed out (default: one per customer), ``what`` (page, export or endpoint), the
    client's address and browser."""
    user = user or getattr(request, "user", None)
    ids = list(dict.fromkeys(int(c) for c in customers if c is not None))
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    signed_in = user is not None and user.is_authenticated
    entry = AccessLog(
        user=user if signed_in else None,
        username=user.get_username()[:150] if signed_in else "",
        action=action,
        what=what[:200],
        customer_id=ids[0] if len(ids) == 1 else None,
        customer_count=len(ids),
        rows=len(ids) if rows is None else rows,
        client_ip=_address(request),
        user_agent=agent[:120],
        token_id=_token_id(request),
    )
    if len(ids) <= 1:
        with _commit_without_waiting_for_the_disk():
            entry.save()  # one INSERT: the 360 page pays one query for its log row
        return entry
    with transaction.atomic():
        entry.save()
        named = ids[: settings.C360_ACCESS_LOG_MAX_IDS]
        AccessLogCustomer.objects.bulk_create(
            [AccessLogCustomer(entry=entry, customer_id=cid) for cid in named], batch_size=5000
        )
    return entry


# ``synchronous_commit`` off for one statement's own transaction: set_config(..., true) lasts until the
# end of the transaction, which is the implicit one around this one query string.
_ASYNCHRONOUS_COMMIT = "SELECT set_config('synchronous_commit', 'off', true); "


def _asynchronous_commit(execute, sql, params, many, context):
    result = execute(_ASYNCHRONOUS_COMMIT + sql, params, many, context)
    # psycopg answers with the first statement's result; the INSERT's (RETURNING id) is the last one.
    while result is not None and result.nextset():
        pass
    return result


@contextmanager
def _commit_without_waiting_for_the_disk() -> Iterator[None]:
    """A one-row access-log entry written on its own (autocommit) commits without waiting for its WAL
    record to reach the disk: the 360 page's only write, and that wait (a flush, ~4 ms on the bench
    machine) was most of what the page lost against its figures before the access log. The row is
    visible at once; only a crash of PostgreSQL or of the machine within 3 x ``wal_writer_delay``
    (600 ms by default) could lose it, never half of it. Exports (several customers, one transaction)
    and rows written inside someone's transaction keep the full guarantee, and so does every row with
    ``C360_ACCESS_LOG_SYNCHRONOUS_COMMIT=true``."""
    if (
        settings.C360_ACCESS_LOG_SYNCHRONOUS_COMMIT
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
    ):
        yield
        return
    with connection.execute_wrapper(_asynchronous_commit):
        yield


def rows_about(customer_id: int):
    """Every access-log row that concerns the customer, newest first (for the subject export and the
    audit per customer)."""
    entries = AccessLogCustomer.objects.filter(customer_id=customer_id).values("entry_id")
    return AccessLog.objects.filter(Q(customer_id=customer_id) | Q(pk__in=entries)).order_by("-at", "-id")

"""Reads that may go to a PostgreSQL read replica (issue #18), and the router that decides it.

With ``DATABASE_REPLICA_URL`` set, the settings add a ``replica`` alias and this router. Only code
that says so reads from the replica: dashboards, search and exports run inside
:func:`replica_reads` (a decorator for views, a context manager elsewhere), because a replica lags
the primary by a moment and those pages tolerate that. Everything else, and every read inside a
write transaction or after the request has written anything, goes to the primary, so a user always
reads their own writes. Without a replica the decorator costs nothing and changes nothing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"

_replica_ok: contextvars.ContextVar[bool] = contextvars.ContextVar("c360_replica_ok", default=False)
_has_written: contextvars.ContextVar[bool] = contextvars.ContextVar("c360_has_written", default=False)


def replica_configured() -> bool:
    return REPLICA_ALIAS in connections.settings


@contextmanager
def replica_reads() -> Iterator[None]:
    """Within this block, plain reads may be served by the replica (when one is configured)."""
    # A thread serves many requests one after another, so "has written" starts afresh with each block;
    # what a middleware wrote before (a session, a sign-in record) is not what the view reads.
    ok, written = _replica_ok.set(True), _has_written.set(False)
    try:
        yield
    finally:
        _replica_ok.reset(ok)
        _has_written.reset(written)


def reads_from_replica(view: Callable) -> Callable:
    """Decorator for views whose reads tolerate replica lag (dashboards, search, exports)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    return wrapper


def read_alias() -> str:
    """The alias a read would use here and now (used by the router and by raw-SQL readers)."""
    if not (_replica_ok.get() and replica_configured()) or _has_written.get():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS  # a read inside a write transaction must see that transaction
    return REPLICA_ALIAS


class ReplicaRouter:
    """Writes and migrations to the primary; reads to the replica only inside :func:`replica_reads`."""

    def db_for_read(self, model, **hints) -> str:
        return read_alias()

    def db_for_write(self, model, **hints) -> str:
        _has_written.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Both aliases hold the same data (the replica is a physical copy of the primary).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS

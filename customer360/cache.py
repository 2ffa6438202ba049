"""A Redis cache that degrades to a miss instead of failing while Redis is unreachable.

Django's own ``RedisCache`` lets a connection error through, so with Redis down every request that
touched the cache (throttles, the NBA catalogue version, ...) answered 500. Here a read during an
outage is a miss, a write is dropped, and after one failure Redis is left alone for
``BREAKER_SECONDS`` (no connection attempt per call). What the cache holds can always be rebuilt:
sessions live in the database, rate-limit counts start again from zero (rate limits are lenient
during an outage rather than refusing everyone). ``redis_down()`` tells /health/ about it.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


def _miss(key, default=None, version=None):
    return default


def _none(*args, **kwargs):
    return None


def _false(*args, **kwargs):
    return False


def _all_failed(data, timeout=None, version=None):
    return list(data)


# What each operation answers while Redis is unreachable: what it answers for a missing key.
_FALLBACK = {
    "get": _miss,
    "add": _false,
    "set": _none,
    "touch": _false,
    "delete": _false,
    "get_many": lambda keys, version=None: {},
    "has_key": _false,
    "set_many": _all_failed,
    "delete_many": _none,
    "clear": _false,
}


class DegradingRedisCache(RedisCache):
    """``RedisCache`` whose outages read as misses (see the module docstring)."""

    _down_until = 0.0

    def incr(self, key, delta=1, version=None):
        if self._is_down():
            raise ValueError(f"Key '{key}' not found (the cache is unreachable)")
        try:
            return super().incr(key, delta, version)
        except OUTAGE as exc:
            self._trip(exc)
            raise ValueError(f"Key '{key}' not found (the cache is unreachable)") from None

    def _is_down(self) -> bool:
        return time.monotonic() < type(self)._down_until

    def _trip(self, exc: BaseException) -> None:
        if not self._is_down():
            logger.warning(
                "cache unreachable, reads are misses for %s s: %s", BREAKER_SECONDS, exc.__class__.__name__
            )
        type(self)._down_until = time.monotonic() + BREAKER_SECONDS


def _degrading(name: str):
    original = getattr(RedisCache, name)
    fallback = _FALLBACK[name]

    @functools.wraps(original)
    def method(self, *args, **kwargs):
        if self._is_down():
            return fallback(*args, **kwargs)
        try:
            return original(self, *args, **kwargs)
        except OUTAGE as exc:
            self._trip(exc)
            return fallback(*args, **kwargs)

    return method


for _name in _FALLBACK:
    setattr(DegradingRedisCache, _name, _degrading(_name))


def redis_down() -> bool:
    """True while the cache's breaker is open (a recent call found Redis unreachable)."""
    return time.monotonic() < DegradingRedisCache._down_until

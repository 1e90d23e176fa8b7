"""The Redis cache backend: Django's own, keeping one Redis client per connection pool, and
degrading instead of failing while Redis cannot be reached.

The database is the source of truth; the cache is disposable. So with Redis down (restarted,
failed over, unreachable) a read is a miss, a write is skipped, and only counters say so, by
raising CacheUnavailable: their callers choose a fallback each (see ``core.counters``). Every
call gives up after REDIS_SOCKET_TIMEOUT, so a hung Redis cannot hold a request.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from django.core.cache.backends import redis as django_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
WARN_EVERY_SECONDS = 10.0


class CacheUnavailable(Exception):
    """The shared cache cannot be reached: a count cannot be taken."""


class RedisCacheClient(django_redis.RedisCacheClient):
    """Django builds a new ``redis.Redis`` for every cache operation, and building one sets up
    its table of response callbacks: about 0.2 ms, three times on every card list. A client is
    safe to share (its connections come from the pool), so each pool keeps one."""

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


_last_warning = 0.0


def _unreachable(operation: str, error: BaseException) -> None:
    """Log that Redis is unreachable, at most once every few seconds per process."""
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning("cache unreachable (%s: %s): degrading", operation, type(error).__name__)


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def _or(self, operation: str, fallback: Any, call: Any, *args: Any) -> Any:
        """``call(*args)``, or ``fallback`` while Redis cannot be reached."""
        try:
            return call(*args)
        except UNREACHABLE as error:
            _unreachable(operation, error)
            return fallback

    # Reads: a miss.
    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._or("get", default, super().get, key, default, version)

    def get_many(self, keys: Any, version: Any = None) -> dict[str, Any]:
        return self._or("get_many", {}, super().get_many, keys, version)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._or("has_key", False, super().has_key, key, version)

    # Writes: skipped (an add did not add, a delete deleted nothing).
    def set(
        self, key: Any, value: Any, timeout: Any = django_redis.DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._or("set", None, super().set, key, value, timeout, version)

    def set_many(
        self, data: dict[str, Any], timeout: Any = django_redis.DEFAULT_TIMEOUT, version: Any = None
    ) -> list[str]:
        return self._or("set_many", list(data), super().set_many, data, timeout, version)

    def add(
        self, key: Any, value: Any, timeout: Any = django_redis.DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._or("add", False, super().add, key, value, timeout, version)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._or("delete", False, super().delete, key, version)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._or("delete_many", None, super().delete_many, keys, version)

    # Counts: the caller must know.
    def incr(self, key: Any, delta: int = 1, version: Any = None) -> int:
        try:
            return super().incr(key, delta, version)
        except UNREACHABLE as error:
            _unreachable("incr", error)
            raise CacheUnavailable(str(type(error).__name__)) from None

    def count_in_window(self, key: str, seconds: int) -> int:
        """Add one to ``key`` (made with a ``seconds`` lifetime when new) in one round trip and
        one atomic step (a script); Django's add() then incr() take three. Raises
        CacheUnavailable."""
        key = self.make_and_validate_key(key)
        try:
            client = self._cache.get_client(key, write=True)
            return int(self._count_script(keys=[key], args=[seconds], client=client))
        except UNREACHABLE as error:
            _unreachable("count", error)
            raise CacheUnavailable(str(type(error).__name__)) from None

    @functools.cached_property
    def _count_script(self) -> Any:
        """The counting script (registering it contacts no server; it is sent by its hash,
        and loaded again by redis-py if the server has forgotten it)."""
        return self._cache.get_client(write=True).register_script(_COUNT_IN_WINDOW)


# One command where a transaction of SET NX and INCR took two and their MULTI and EXEC.
_COUNT_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

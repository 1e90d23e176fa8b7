"""Counters in the shared cache for rate limits and lockouts: atomic across processes."""

from __future__ import annotations

from django.core.cache import cache

from issuer_portal.core.cache import CacheUnavailable

__all__ = [
    "CacheUnavailable",
    "count_if_reachable",
    "count_in_window",
    "current_count",
]


def count_in_window(key: str, seconds: int) -> int:
    """Add one to ``key`` (created with a ``seconds`` lifetime) and return the new count.

    Raises CacheUnavailable while the shared cache cannot be reached: each caller decides what
    a limit means then (the database's count, or letting the call through, written down there).
    """
    one_round_trip = getattr(cache, "count_in_window", None)  # the Redis backend's
    if one_round_trip is not None:
        return one_round_trip(key, seconds)
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired (or evicted) between add and incr
        cache.add(key, 1, timeout=seconds)
        return 1


def count_if_reachable(key: str, seconds: int) -> int | None:
    """count_in_window for a count that only informs (a lockout's ceiling, a second's calls):
    None while the shared cache cannot be reached, and nothing counted."""
    try:
        return count_in_window(key, seconds)
    except CacheUnavailable:
        return None


def current_count(key: str) -> int:
    return int(cache.get(key) or 0)

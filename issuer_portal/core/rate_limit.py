"""Per-second rate limits shared by every process (counters in the shared cache).

A limit of N a second allows at most N calls in any calendar second. Callers that can wait
reserve the first second with room (up to ``horizon`` seconds ahead) and wait for it; callers
that must not wait (a cardholder pressing a button) only take their place in the current second,
so the patient ones yield to them. A call is counted in the second it will reach the other side
(``call_second``), so none that waited starts in a second's last SECOND_END_MARGIN.
"""

from __future__ import annotations

import time

from issuer_portal.core.counters import CacheUnavailable, count_if_reachable, count_in_window

# A call begun closer than this to the end of a second may arrive in the next one.
SECOND_END_MARGIN = 0.1


def _key(name: str, second: int) -> str:
    return f"rate:{name}:{second}"


def call_second(now: float) -> int:
    """The second a call begun at ``now`` counts in: the current one, or the next when less
    than SECOND_END_MARGIN of the current one is left."""
    second = int(now)
    return second + 1 if now - second > 1 - SECOND_END_MARGIN else second


def reserve_slot(
    name: str, per_second: int, *, now: float | None = None, horizon: int = 120
) -> float:
    """Reserve one call of ``name`` in the first second with room; returns the seconds to wait
    until that second begins (0.0: call now). ``horizon`` when every second ahead is full."""
    now = time.time() if now is None else now
    second = call_second(now)
    try:
        for ahead in range(horizon):
            if count_in_window(_key(name, second + ahead), ahead + 2) <= per_second:
                return max(0.0, second + ahead - now)
    except CacheUnavailable:
        # No shared count: let the call through. Redis is also the broker, so with it down no
        # background call is running to crowd the upstream.
        return 0.0
    return float(horizon)


def take_slot_now(name: str, *, now: float | None = None) -> None:
    """Count one call of ``name`` in the current second, whatever the limit."""
    # Without the cache nothing is counted, and there is nothing to yield to: see reserve_slot.
    count_if_reachable(_key(name, int(time.time() if now is None else now)), 2)


def take_slot_if_room(name: str, per_second: int, *, now: float | None = None) -> bool:
    """Take a place for one call of ``name`` in the current second if it has room (True);
    False when it is full (the refused place is counted too, which only errs on the safe side)
    or too near its end to be sure of arriving in it."""
    now = time.time() if now is None else now
    if call_second(now) != int(now):
        return False
    try:
        return count_in_window(_key(name, int(now)), 2) <= per_second
    except CacheUnavailable:
        return True  # see reserve_slot

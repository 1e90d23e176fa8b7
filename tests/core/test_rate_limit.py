"""Shared per-second rate limits: reservations in the shared cache (Redis in CI)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from issuer_portal.core.rate_limit import reserve_slot, take_slot_now


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_calls_beyond_the_limit_reserve_the_next_seconds_in_order():
    now = 1_000_000.25
    waits = [reserve_slot("upstream", 3, now=now) for _ in range(8)]
    # Three in this second (now), three in the next (0.75 s away), two in the one after.
    assert waits == [0.0, 0.0, 0.0, 0.75, 0.75, 0.75, 1.75, 1.75]


def test_calls_that_cannot_wait_take_room_from_those_that_can():
    now = 2_000_000.0
    take_slot_now("upstream", now=now)
    take_slot_now("upstream", now=now)
    assert reserve_slot("upstream", 2, now=now) == 1.0


def test_every_second_ahead_full_means_the_whole_horizon():
    now = 3_000_000.0
    for _ in range(3):
        reserve_slot("upstream", 1, now=now, horizon=3)
    assert reserve_slot("upstream", 1, now=now, horizon=3) == 3.0


def test_limits_of_different_names_are_separate():
    now = 4_000_000.0
    assert reserve_slot("a", 1, now=now) == 0.0
    assert reserve_slot("b", 1, now=now) == 0.0
    assert reserve_slot("a", 1, now=now) == 1.0

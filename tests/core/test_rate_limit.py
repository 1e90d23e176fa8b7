"""Shared per-second rate limits: reservations in the shared cache (Redis in CI)."""

from __future__ import annotations

import uuid

import pytest

from issuer_portal.core.rate_limit import reserve_slot, take_slot_if_room, take_slot_now


@pytest.fixture
def name() -> str:
    """A limit of its own: the cache is shared with tests running beside this one."""
    return f"test-{uuid.uuid4().hex}"


def test_calls_beyond_the_limit_reserve_the_next_seconds_in_order(name):
    now = 1_000_000.25
    waits = [reserve_slot(name, 3, now=now) for _ in range(8)]
    # Three in this second (now), three in the next (0.75 s away), two in the one after.
    assert waits == [0.0, 0.0, 0.0, 0.75, 0.75, 0.75, 1.75, 1.75]


def test_calls_that_cannot_wait_take_room_from_those_that_can(name):
    now = 2_000_000.0
    take_slot_now(name, now=now)
    take_slot_now(name, now=now)
    assert reserve_slot(name, 2, now=now) == 1.0


def test_every_second_ahead_full_means_the_whole_horizon(name):
    now = 3_000_000.0
    for _ in range(3):
        reserve_slot(name, 1, now=now, horizon=3)
    assert reserve_slot(name, 1, now=now, horizon=3) == 3.0


def test_limits_of_different_names_are_separate(name):
    now = 4_000_000.0
    assert reserve_slot(name + "a", 1, now=now) == 0.0
    assert reserve_slot(name + "b", 1, now=now) == 0.0
    assert reserve_slot(name + "a", 1, now=now) == 1.0


def test_a_place_now_only_while_the_second_has_room(name):
    now = 5_000_000.5
    assert take_slot_if_room(name, 2, now=now)
    assert take_slot_if_room(name, 2, now=now)
    assert not take_slot_if_room(name, 2, now=now)
    assert take_slot_if_room(name, 2, now=now + 1)


def test_a_call_begun_in_a_seconds_last_tenth_counts_in_the_next(name):
    now = 7_000_000.95  # it may arrive after 7_000_001.0
    assert not take_slot_if_room(name, 5, now=now)
    assert reserve_slot(name, 5, now=now) == pytest.approx(0.05)

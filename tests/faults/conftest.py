"""Fixtures of the fault suite: a whole portal in real processes per scenario (stack.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.stack import Stack


@pytest.fixture
def make_stack(
    transactional_db, vipps_sandbox, settings, tmp_path
) -> Iterator[Callable[..., Stack]]:
    """``make_stack(**environment)``: a Stack on this test's database and Vipps sandbox; every
    process it started is stopped at the end."""
    stacks: list[Stack] = []

    def make(*, behind_proxy: bool = False, **overrides: str) -> Stack:
        stack = Stack(
            tmp_path / f"stack{len(stacks)}", vipps_sandbox, behind_proxy=behind_proxy, **overrides
        )
        # The sandbox's links point at the portal it answers for.
        settings.PUBLIC_BASE_URL = stack.server.origin
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()

"""The scale-out test (make scale-test): a ScaleStack per test, stopped at its end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.scale.stack import ScaleStack


@pytest.fixture
def make_scale_stack(
    transactional_db, vipps_sandbox, settings, tmp_path
) -> Iterator[Callable[..., ScaleStack]]:
    """``make_scale_stack(replicas=3, **environment)``: the portal scaled out on this test's
    database and Vipps sandbox, its broker the RabbitMQ of RABBITMQ_URL."""
    stacks: list[ScaleStack] = []

    def make(*, replicas: int = 3, **overrides: str) -> ScaleStack:
        stack = ScaleStack(
            tmp_path / f"scale{len(stacks)}",
            vipps_sandbox,
            replicas=replicas,
            broker_url=os.environ["RABBITMQ_URL"],
            **overrides,
        )
        settings.PUBLIC_BASE_URL = stack.server.origin
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()

"""The benchmark's phase timing (tests/benchmarks/phases.py) names functions of the portal by
their dotted paths: a rename must fail here, not in the middle of a benchmark run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.benchmarks import phases


@pytest.mark.parametrize("label", list(phases.PHASES))
def test_every_phase_names_a_function_that_exists(label):
    owner, name = phases._resolve(phases.PHASES[label])
    assert callable(getattr(owner, name))


def test_only_the_presses_are_timed():
    card = str(uuid.uuid4())
    post = {"REQUEST_METHOD": "POST"}
    assert phases._press({**post, "PATH_INFO": f"/cards/{card}/provision/"}) == ("Add", card)
    assert phases._press({**post, "PATH_INFO": f"/bench/bare-add/{card}/"}) == ("bare view", card)
    recorded = {**post, "PATH_INFO": f"/bench/bare-add-with-records/{card}/"}
    assert phases._press(recorded) == ("bare + records", card)
    waiting = {**post, "PATH_INFO": f"/bench/bare-add-with-records/{card}/wait/300/"}
    assert phases._press(waiting) == ("bare + records, waiting", card)
    get = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/cards/{card}/provision/"}
    assert phases._press(get) is None
    assert phases._press({**post, "PATH_INFO": f"/cards/{card}/contactless/"}) is None


def test_medians_of_the_chosen_presses(tmp_path: Path):
    ours, other = str(uuid.uuid4()), str(uuid.uuid4())
    lines = [
        {"kind": "Add", "card": ours, "ms": {"total": 10.0, "the Vipps call": 4.0}},
        {"kind": "Add", "card": ours, "ms": {"total": 14.0}},
        {"kind": "Add", "card": other, "ms": {"total": 900.0}},  # a crowd's press: left out
        {"kind": "bare view", "card": ours, "ms": {"total": 5.0}},
    ]
    (tmp_path / "phases-1.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    found = phases.medians(tmp_path, [ours])
    # A phase a press did not reach counts as 0 in its median.
    assert found == {"Add": {"total": 12.0, "the Vipps call": 2.0}, "bare view": {"total": 5.0}}

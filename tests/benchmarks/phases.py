"""Where the server's time goes in "Add" and its baselines, timed inside the benchmark's gunicorn
workers (``python -m tests.benchmarks.server --only add --phases``).

Each phase is a function of the portal (or of a library it calls) named by its dotted path; while
a press is served, every call of it is timed, by the wall clock, so a wait on PostgreSQL or Redis
counts where it happens. Nested phases overlap (the records of "Add" include their statements).
Each worker appends one line per press to ``phases-<pid>.jsonl`` in BENCH_PHASES_DIR, and the
benchmark prints the medians of the presses it made one at a time. Timing costs a few
microseconds a call, to "Add" and its baselines alike; a run with phases is not one to quote goal
figures from.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# label: "module:attribute" or "module:Class.attribute". A function is replaced in the module
# that calls it (where the call looks its name up), a method on its class.
PHASES: dict[str, str] = {
    "database statements": "django.db.backends.utils:CursorWrapper._execute_with_wrappers",
    "database pool, taking a connection (and its check)": "psycopg_pool:ConnectionPool.getconn",
    "Redis commands": "redis.client:Redis.execute_command",
    "Redis pipelines": "redis.client:Pipeline.execute",
    "the card and its cardholder": "issuer_portal.cards.selectors:card_of_user",
    "card rules": "provisioning.starting:refusal_code",
    "wallet state": "provisioning.starting:wallet_state_for_card",
    "the rate count, the attempt and its audit entry": "provisioning.starting:_create_attempt",
    "Vipps rate-limit count": "provisioning.upstream_call:take_slot_now",
    "the request and its JWE": "provisioning.upstream_call:_request_for",
    "the link and its records": "provisioning.upstream_call:_record_link",
    "the Vipps call": "provisioning.vipps:post_json",
    "JWE encryption": "provisioning.upstream_call:encrypt_card_data",
    "JWE encryption (bare views)": "tests.benchmarks.bench_urls:encrypt_card_data",
    "the records (bare view with the records)": "tests.benchmarks.bench_urls:write_together",
}
VIPPS_CALL = "the Vipps call"
_CARD = "[0-9a-f-]{36}"
PRESSES = {
    "Add": re.compile(rf"^/cards/({_CARD})/provision/$"),
    "bare view": re.compile(rf"^/bench/bare-add/({_CARD})/$"),
    "bare + records": re.compile(rf"^/bench/bare-add-with-records/({_CARD})/$"),
    "bare + records, waiting": re.compile(rf"^/bench/bare-add-with-records/({_CARD})/wait/\d+/$"),
}

_local = threading.local()


def _resolve(path: str) -> tuple[Any, str]:
    module_name, attribute = path.split(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = attribute.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        spans = getattr(_local, "spans", None)
        if spans is None:
            return function(*args, **kwargs)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            ended = time.perf_counter()
            spans[label] = spans.get(label, 0.0) + ended - started
            if label == VIPPS_CALL:
                spans["before the Vipps call"] = started - _local.started
                _local.vipps_ended = ended

    return timed


def timing(application: Callable[..., Any], directory: Path) -> Callable[..., Any]:
    """``application`` with every phase timed while a press is served."""
    for label, path in PHASES.items():
        owner, name = _resolve(path)
        setattr(owner, name, _timed(label, getattr(owner, name)))
    out = (directory / f"phases-{os.getpid()}.jsonl").open("a", buffering=1)
    lock = threading.Lock()

    def timed_application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        press = _press(environ)
        if press is None:
            return application(environ, start_response)
        _local.spans, _local.started, _local.vipps_ended = {}, time.perf_counter(), None
        try:
            return application(environ, start_response)
        finally:
            ended = time.perf_counter()
            spans, vipps_ended = _local.spans, _local.vipps_ended
            _local.spans = None
            spans["total"] = ended - _local.started
            if vipps_ended is not None:
                spans["after the Vipps call"] = ended - vipps_ended
                spans["total without the Vipps call"] = spans["total"] - spans[VIPPS_CALL]
            line = {"kind": press[0], "card": press[1], "ms": _ms(spans)}
            with lock:
                out.write(json.dumps(line) + "\n")

    return timed_application


def _press(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, card) of a press to time, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    for kind, pattern in PRESSES.items():
        found = pattern.match(environ.get("PATH_INFO", ""))
        if found:
            return kind, found.group(1)
    return None


def _ms(spans: dict[str, float]) -> dict[str, float]:
    return {label: round(seconds * 1000, 3) for label, seconds in spans.items()}


def medians(directory: Path, cards: Iterable[str]) -> dict[str, dict[str, float]]:
    """Per kind of press (PRESSES), the median ms of each phase over the
    presses of ``cards`` (a phase a press did not reach counts as 0)."""
    wanted = set(cards)
    by_kind: dict[str, list[dict[str, float]]] = {}
    for file in sorted(directory.glob("phases-*.jsonl")):
        for line in file.read_text().splitlines():
            press = json.loads(line)
            if press["card"] in wanted:
                by_kind.setdefault(press["kind"], []).append(press["ms"])
    order = ["total", "total without the Vipps call", "before the Vipps call"]
    order += ["after the Vipps call", *PHASES]
    return {
        kind: {
            label: round(statistics.median(p.get(label, 0.0) for p in presses), 2)
            for label in order
            if any(label in p for p in presses)
        }
        for kind, presses in by_kind.items()
    }

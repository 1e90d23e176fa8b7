"""Every database connection of the portal dropped at once (a failover, pg_terminate_backend)
while cardholders use it."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from issuer_portal.core.models import AuditEntry
from provisioning.models import ProvisioningAttempt
from tests.faults.stack import (
    PORTAL_APPLICATION_NAME,
    cardholders_with_a_card,
    record_figures,
    wait_until,
)

pytestmark = pytest.mark.faults


def _drop_every_portal_connection() -> int:
    """Every connection of the portal's processes (web, worker, beat); the test's own pool is
    left alone, so the tests after this one in the worker still have a database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [PORTAL_APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def test_dropped_connections_cost_no_restart_and_leave_nothing_half_written(make_stack):
    stack = make_stack()
    pairs = cardholders_with_a_card(6)
    stack.start_all()
    browsers = [stack.browser(holder, card) for holder, card in pairs]
    reader, pressers = browsers[0], browsers[1:]

    results: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def read_card_lists() -> None:
        while not stop.is_set():
            status, body, _ = stack.get(reader, "/cards/")
            results.append((time.monotonic(), status, body))

    load = threading.Thread(target=read_card_lists)
    load.start()
    time.sleep(1)
    stack.sandbox.faults.extend(["503"] * len(pressers))  # their retries run on the worker
    presses: list[tuple[int, str, float]] = []
    press_threads = [
        threading.Thread(target=lambda b=b: presses.append(stack.press(b))) for b in pressers
    ]
    for thread in press_threads:
        thread.start()
    dropped = _drop_every_portal_connection()
    dropped_at = time.monotonic()
    for thread in press_threads:
        thread.join(30)
    time.sleep(3)
    stop.set()
    load.join(30)

    after = [(t, s, body) for t, s, body in results if t >= dropped_at]
    failed = [(t, s, body) for t, s, body in after if s != 200]
    # In-flight requests fail cleanly: the error page, never a traceback or a hung connection.
    for _, status, body in failed:
        assert status == 500 and "Traceback" not in body and "<html" in body
    last_second = [s for t, s, _ in after if t > time.monotonic() - 1]
    assert last_second and set(last_second) == {200}  # recovered without a restart
    assert "web" in stack.processes and stack.processes["web"].poll() is None
    # Every press ended as a whole attempt with its audit row, or (failed cleanly) as nothing.
    attempts = list(ProvisioningAttempt.objects.all())
    for attempt in attempts:
        assert AuditEntry.objects.filter(
            action="provisioning.initiated", object_id=str(attempt.public_id)
        ).exists()
    failed_presses = [p for p in presses if p[0] not in (302, 303)]
    assert all(status == 500 for status, _, _ in failed_presses)
    assert len(attempts) == len(pressers) - len(failed_presses)

    def all_linked() -> bool:
        return all(ProvisioningAttempt.objects.get(pk=a.pk).state == "link_ready" for a in attempts)

    wait_until(all_linked, 60, "the worker finishes every attempt after the drop")
    finished = time.monotonic() - dropped_at
    record_figures(
        "database_connections_dropped",
        connections_dropped=dropped,
        card_list_requests_after=len(after),
        card_list_failed=len(failed),
        last_failure_after_drop_ms=round((max(t for t, _, _ in failed) - dropped_at) * 1000)
        if failed
        else 0,
        presses=len(pressers),
        presses_failed_cleanly=len(failed_presses),
        half_written_attempts=0,
        attempts_linked_after_drop_s=round(finished, 1),
    )

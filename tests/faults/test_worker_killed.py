"""A worker killed (SIGKILL) while its call to Vipps is in flight, as a forced deploy or the OOM
killer does it."""

from __future__ import annotations

import time

import pytest

from issuer_portal.core.models import AuditEntry
from provisioning.models import ProvisioningAttempt
from tests.faults.stack import all_linked, cardholders_with_a_card, record_figures, wait_until

pytestmark = pytest.mark.faults


def test_an_attempt_whose_worker_is_killed_mid_call_gets_one_link_within_seconds(make_stack):
    stack = make_stack()
    [(holder, card)] = cardholders_with_a_card(1)
    stack.start_redis()
    stack.start_web()
    stack.start_worker("worker-1")
    stack.start_beat()
    browser = stack.browser(holder, card)
    vipps = stack.sandbox
    # The click's own try and the first worker's hang on a Vipps that does not answer.
    vipps.faults.extend(["slow:20", "slow:20"])

    status, location, press_ms = stack.press(browser)
    assert status == 302 and location.startswith("/provisioning/")  # the waiting page
    attempt = ProvisioningAttempt.objects.get(card=card)
    wait_until(lambda: len(vipps.arrived) == 2, 30, "the worker's call reaches Vipps")
    stack.kill("worker-1")  # mid-call
    stack.start_worker("worker-2")  # the deploy's new worker

    recovery = wait_until(
        lambda: all_linked([attempt]), 60, "the attempt is picked up again and gets its link"
    )
    attempt.refresh_from_db()
    calls = [request_id for request_id, _ in vipps.arrived]
    # Every call for the attempt carried its X-Request-ID, so Vipps can recognise the repeats.
    assert calls == [str(attempt.correlation_id)] * 3
    # One link shown: the attempt's page sends the cardholder to it, and it was issued once.
    status, page, _ = stack.get(browser, f"/provisioning/{attempt.public_id}/")
    assert status == 200 and attempt.universal_link.replace("&", "&amp;") in page
    issued = AuditEntry.objects.filter(
        action="provisioning.link_issued", object_id=str(attempt.public_id)
    )
    assert issued.count() == 1
    time.sleep(2)  # nothing else arrives later (a second worker, a late sweep)
    assert len(vipps.arrived) == 3
    record_figures(
        "worker_killed_mid_call",
        recovery_after_kill_s=round(recovery, 1),
        press_ms=round(press_ms),
        vipps_calls=len(calls),
        links_issued=issued.count(),
        claim_lease_s=1 + 2 + 1,
        sweep_every_s=1,
    )

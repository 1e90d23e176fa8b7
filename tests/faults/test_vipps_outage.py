"""Vipps answers 503 for a while (ten minutes in production, scaled to seconds here) while
cardholders keep pressing "Add"; then it recovers."""

from __future__ import annotations

import collections
import itertools
import time

import pytest

from issuer_portal.core.models import AuditEntry
from provisioning.models import ProvisioningAttempt
from tests.faults.stack import cardholders_with_a_card, record_figures, wait_until

pytestmark = pytest.mark.faults

OUTAGE_S = 8.0
PRESSES = 20
RATE_LIMIT = 3  # VIPPS_RATE_LIMIT_PER_SECOND
MAX_AGE_S = 12  # PROVISIONING_MAX_AGE_SECONDS: the attempt's deadline


def test_a_vipps_outage_with_a_backlog_ends_with_every_attempt_final_and_none_twice(make_stack):
    stack = make_stack(
        VIPPS_RATE_LIMIT_PER_SECOND=str(RATE_LIMIT),
        PROVISIONING_MAX_AGE_SECONDS=str(MAX_AGE_S),
    )
    pairs = cardholders_with_a_card(PRESSES)
    stack.start_all()
    browsers = [stack.browser(holder, card) for holder, card in pairs]
    vipps = stack.sandbox

    vipps.outage = True
    started = time.monotonic()
    for browser in browsers:  # one press every OUTAGE_S / PRESSES seconds, all during it
        status, location, _ = stack.press(browser)
        assert status == 302 and location.startswith("/provisioning/")
        time.sleep(
            max(
                0.0, started + OUTAGE_S * (browsers.index(browser) + 1) / PRESSES - time.monotonic()
            )
        )
    vipps.outage = False
    recovered_at = time.time()

    def none_pending() -> bool:
        return not ProvisioningAttempt.objects.filter(state="requested").exists()

    settled = wait_until(none_pending, 3 * MAX_AGE_S, "every attempt reaches a final state")
    attempts = list(ProvisioningAttempt.objects.all())
    states = collections.Counter(a.state for a in attempts)
    assert len(attempts) == PRESSES  # none lost
    assert set(states) <= {"link_ready", "expired", "failed"} and states["link_ready"] > 0
    for attempt in attempts:
        assert AuditEntry.objects.filter(
            action="provisioning.initiated", object_id=str(attempt.public_id)
        ).exists()
    # None twice: at most one successful call per attempt, every call with its X-Request-ID.
    successes = collections.Counter(s.request_id for s in vipps.seen if s.status == 200)
    assert set(successes.values()) == {1}
    assert set(successes) == {str(a.correlation_id) for a in attempts if a.state == "link_ready"}
    assert {s.request_id for s in vipps.seen} <= {str(a.correlation_id) for a in attempts}
    # Retried with backoff and jitter, within the deadline: no attempt called after it.
    by_attempt, first_waits = collections.defaultdict(list), []
    for request_id, at in vipps.arrived:
        by_attempt[request_id].append(at)
    for attempt in attempts:
        calls = by_attempt[str(attempt.correlation_id)]
        assert calls and max(calls) - attempt.created_at.timestamp() <= MAX_AGE_S + 1
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        # The k-th wait is at least PROVISIONING_RETRY_BASE_SECONDS * 2^(k-1), plus jitter.
        assert all(gap >= 0.5 * 2**k * 0.95 for k, gap in enumerate(gaps)), gaps
        first_waits.append(gaps[0] if gaps else 0.0)
    assert len(set(first_waits)) == len(first_waits)  # jitter: no two attempts in step
    # The recovery is no thundering herd: the rate limit holds every second after it.
    per_second = collections.Counter(int(at) for _, at in vipps.arrived if at >= recovered_at)
    assert max(per_second.values()) <= RATE_LIMIT, per_second

    # Whose deadline passed is told so, and can start again.
    expired = [a for a in attempts if a.state != "link_ready"]
    if expired:
        browser = browsers[
            [str(c.public_id) for _, c in pairs].index(str(expired[0].card.public_id))
        ]
        status, page, _ = stack.get(browser, f"/provisioning/{expired[0].public_id}/")
        assert status == 200 and "Please try again" in page
        status, location, _ = stack.press(browser)
        assert status == 303  # a new attempt, and its link at once
    record_figures(
        "vipps_outage_with_backlog",
        outage_s=OUTAGE_S,
        presses=PRESSES,
        vipps_calls=len(vipps.arrived),
        linked=states["link_ready"],
        expired_past_deadline=states["expired"],
        failed=states["failed"],
        lost=0,
        duplicated=0,
        stuck=0,
        settled_after_recovery_s=round(time.time() - recovered_at - 0, 1),
        busiest_second_after_recovery=max(per_second.values()),
        rate_limit_per_s=RATE_LIMIT,
        wait_for_final_s=round(settled, 1),
    )

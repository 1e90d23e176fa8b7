"""Redis is the cache and the broker: down at the click and for a while after, and restarted
with nothing persisted while attempts wait for their retries."""

from __future__ import annotations

import time

import pytest

from issuer_portal.core.models import AuditEntry
from provisioning.models import ProvisioningAttempt
from tests.faults.stack import all_linked, cardholders_with_a_card, record_figures, wait_until

pytestmark = pytest.mark.faults

OUTAGE_S = 4  # "minutes", scaled like the recovery settings (tests/faults/stack.py FAST)


def test_broker_down_at_the_click_the_press_answers_and_the_attempt_completes_after(make_stack):
    stack = make_stack()
    (holder, card), (other, other_card) = cardholders_with_a_card(2)
    stack.start_all()
    browser, other_browser = stack.browser(holder, card), stack.browser(other, other_card)
    vipps = stack.sandbox
    stack.kill_redis()

    vipps.faults.append("503")  # the click's own try fails: its retry needs the broker
    status, location, press_ms = stack.press(browser)
    assert status == 302 and location.startswith("/provisioning/")  # the waiting page, at once
    attempt = ProvisioningAttempt.objects.get(card=card)
    assert attempt.state == "requested"
    list_status, page, list_ms = stack.get(browser, "/cards/")
    assert list_status == 200 and card.last4 in page
    # Another cardholder, while Redis is still down: Vipps answers, the link comes at once.
    status, other_location, other_ms = stack.press(other_browser)
    assert status == 303 and other_location.startswith(stack.server.origin + "/sandbox/vipps/")

    time.sleep(OUTAGE_S)
    assert ProvisioningAttempt.objects.get(pk=attempt.pk).state == "requested"
    stack.start_redis()  # back, empty
    recovery = wait_until(
        lambda: all_linked([attempt]), 60, "the attempt completes once the broker is back"
    )
    assert [request_id for request_id, _ in vipps.arrived].count(str(attempt.correlation_id)) == 2
    record_figures(
        "broker_down_at_the_click",
        press_ms=round(press_ms),
        card_list_ms=round(list_ms),
        other_press_to_link_ms=round(other_ms),
        redis_down_s=OUTAGE_S,
        completed_after_redis_back_s=round(recovery, 1),
        bound_s="worker reconnect + PROVISIONING_LOST_AFTER_SECONDS + PROVISIONING_SWEEP_SECONDS",
    )


def test_redis_restarted_empty_loses_no_attempt_and_no_audit_row(make_stack):
    stack = make_stack()
    pairs = cardholders_with_a_card(5)
    stack.start_all()
    browsers = [stack.browser(holder, card) for holder, card in pairs]
    vipps = stack.sandbox
    vipps.outage = True
    for browser in browsers:
        status, location, _ = stack.press(browser)
        assert status == 302 and location.startswith("/provisioning/")
    attempts = list(ProvisioningAttempt.objects.all())
    assert len(attempts) == 5 and all(a.state == "requested" for a in attempts)
    audit_before = AuditEntry.objects.count()
    # Their retries wait in Redis (and in the worker's memory) when Redis dies and comes back
    # with nothing: every queued task is gone.
    stack.kill_redis()
    stack.start_redis()
    vipps.outage = False
    recovery = wait_until(lambda: all_linked(attempts), 60, "every attempt gets its link")
    assert AuditEntry.objects.count() == audit_before + 5  # one "link issued" each, none lost
    initiated = AuditEntry.objects.filter(action="provisioning.initiated").count()
    issued = AuditEntry.objects.filter(action="provisioning.link_issued").count()
    assert (initiated, issued) == (5, 5)
    successes = {}
    for seen in vipps.seen:
        if seen.status == 200:
            successes[seen.request_id] = successes.get(seen.request_id, 0) + 1
    record_figures(
        "redis_restarted_empty",
        attempts=5,
        linked_after_restart_s=round(recovery, 1),
        lost=5
        - sum(1 for a in attempts if ProvisioningAttempt.objects.get(pk=a.pk).universal_link),
        audit_rows_lost=0,
        successful_vipps_calls_per_attempt=sorted(set(successes.values())),
    )

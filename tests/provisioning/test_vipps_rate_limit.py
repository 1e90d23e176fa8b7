"""VIPPS_RATE_LIMIT_PER_SECOND holds in the second a background call goes out, not only in the
one it reserved: a worker that is ready only after its second takes a place in the current one
or waits for a new reservation."""

from __future__ import annotations

import datetime
import types

import pytest
from django.conf import settings
from django.utils import timezone

from issuer_portal.core.rate_limit import take_slot_now
from provisioning import services, upstream_call
from provisioning.lifecycle import sweep_attempts
from provisioning.models import ProvisioningAttempt
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

SECOND = 6_000_000  # a second of its own in the shared counters


@pytest.fixture
def attempt() -> ProvisioningAttempt:
    card = CardFactory()
    return ProvisioningAttempt.objects.create(card=card, cardholder=card.cardholder)


@pytest.fixture
def clock(monkeypatch, settings):
    """The time the call is ready, as the rate limit sees it."""
    settings.VIPPS_RATE_LIMIT_PER_SECOND = 2
    now = types.SimpleNamespace(value=SECOND + 0.5)
    monkeypatch.setattr(upstream_call, "time", types.SimpleNamespace(time=lambda: now.value))
    return now


def test_a_call_in_its_reserved_second_goes_out(vipps_sandbox, attempt, clock):
    assert services.try_upstream_call(attempt.pk, slot=SECOND) == services.TryOutcome.LINK_READY
    assert len(vipps_sandbox.seen) == 1


def test_a_late_call_takes_a_place_in_the_current_second_when_it_has_room(
    vipps_sandbox, attempt, clock
):
    take_slot_now(upstream_call.VIPPS_RATE, now=clock.value)
    outcome = services.try_upstream_call(attempt.pk, slot=SECOND - 1)
    assert outcome == services.TryOutcome.LINK_READY
    assert len(vipps_sandbox.seen) == 1


def test_a_late_call_into_a_full_second_is_not_made_and_costs_no_try(vipps_sandbox, attempt, clock):
    for _ in range(2):
        take_slot_now(upstream_call.VIPPS_RATE, now=clock.value)
    outcome = services.try_upstream_call(attempt.pk, slot=SECOND - 1)
    assert outcome == services.TryOutcome.RATE_LIMITED
    assert vipps_sandbox.seen == []
    attempt.refresh_from_db()
    assert (attempt.state, attempt.tries, attempt.claimed_until) == ("requested", 0, None)
    # Its retry is due now, so the sweeper leaves it to that task, however old the attempt.
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        created_at=timezone.now()
        - datetime.timedelta(seconds=settings.PROVISIONING_LOST_AFTER_SECONDS + 5)
    )
    assert sweep_attempts()["requeued"] == 0
    # The next try claims it as usual.
    clock.value += 1
    assert services.try_upstream_call(attempt.pk, slot=SECOND + 1) == services.TryOutcome.LINK_READY


def test_no_call_starts_in_the_last_tenth_of_a_second(vipps_sandbox, attempt, clock):
    """It could reach Vipps in the next second, whose places belong to others."""
    clock.value = SECOND + 0.95
    outcome = services.try_upstream_call(attempt.pk, slot=SECOND)
    assert outcome == services.TryOutcome.RATE_LIMITED
    assert vipps_sandbox.seen == []


def test_reservations_near_a_seconds_end_go_to_the_next_second(settings):
    settings.VIPPS_RATE_LIMIT_PER_SECOND = 2
    assert services.wait_for_vipps_slot(now=SECOND + 10.95) == pytest.approx(0.05)
    assert services.wait_for_vipps_slot(now=SECOND + 20.5) == 0.0


def test_a_cardholders_call_goes_out_at_once_and_takes_its_place_in_the_second(
    vipps_sandbox, attempt, monkeypatch, settings
):
    """Never held back, but counted (while Vipps answers), so background calls yield to it."""
    from issuer_portal.core import rate_limit

    settings.VIPPS_RATE_LIMIT_PER_SECOND = 1
    now = SECOND + 7.5
    monkeypatch.setattr(rate_limit, "time", types.SimpleNamespace(time=lambda: now))
    services.provision_now_or_later(attempt)
    assert attempt.state == "link_ready" and len(vipps_sandbox.seen) == 1
    # Its second's one place is taken: a background call waits for the next second.
    assert services.wait_for_vipps_slot(now=now) == pytest.approx(0.5)

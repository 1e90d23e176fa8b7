"""Periodic jobs under a lease: one run at a time across every process, and not too often."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections
from django.utils import timezone

from issuer_portal.core.leases import job_lease, release_job_lease, take_job_lease
from issuer_portal.core.models import JobLease


@pytest.mark.django_db
def test_a_held_lease_is_refused_until_released():
    token = take_job_lease("job", at_most_every=0, longest_run=60)
    assert token
    assert take_job_lease("job", at_most_every=0, longest_run=60) is None
    release_job_lease("job", token)
    assert take_job_lease("job", at_most_every=0, longest_run=60)


@pytest.mark.django_db
def test_a_job_that_ran_moments_ago_is_skipped_even_when_released():
    with job_lease("daily", at_most_every=3600, longest_run=60) as mine:
        assert mine
    with job_lease("daily", at_most_every=3600, longest_run=60) as again:
        assert not again
    JobLease.objects.filter(name="daily").update(
        last_started_at=timezone.now() - datetime.timedelta(hours=2)
    )
    with job_lease("daily", at_most_every=3600, longest_run=60) as later:
        assert later


@pytest.mark.django_db
def test_the_lease_of_a_run_that_died_can_be_taken_after_its_longest_run():
    assert take_job_lease("job", at_most_every=0, longest_run=60)  # never released: it died
    assert take_job_lease("job", at_most_every=0, longest_run=60) is None
    JobLease.objects.filter(name="job").update(held_until=timezone.now())
    assert take_job_lease("job", at_most_every=0, longest_run=60)


@pytest.mark.django_db
def test_a_run_that_raises_gives_its_lease_back():
    with pytest.raises(RuntimeError), job_lease("job", at_most_every=0, longest_run=60):
        raise RuntimeError("the job failed")
    assert take_job_lease("job", at_most_every=0, longest_run=60)


@pytest.mark.postgres
def test_of_twelve_runs_started_at_once_exactly_one_takes_the_lease(transactional_db):
    barrier = threading.Barrier(12)
    tokens: list[str | None] = []

    def run() -> None:
        try:
            barrier.wait()
            tokens.append(take_job_lease("contended", at_most_every=5, longest_run=60))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(tokens) == 12
    assert len([token for token in tokens if token]) == 1


@pytest.mark.django_db
def test_a_second_beats_sweep_finds_the_job_taken_and_does_nothing(alice, settings):
    from provisioning.models import AttemptState, ProvisioningAttempt
    from provisioning.tasks import sweep_provisioning_attempts

    settings.PROVISIONING_MAX_AGE_SECONDS = 600
    card = alice.cards.first()
    stale = ProvisioningAttempt.objects.create(card=card, cardholder=alice)
    ProvisioningAttempt.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=1)
    )
    token = take_job_lease("sweep-provisioning-attempts", at_most_every=0, longest_run=60)
    assert sweep_provisioning_attempts() == {}  # the other beat's sweep is running
    stale.refresh_from_db()
    assert stale.state == AttemptState.REQUESTED
    release_job_lease("sweep-provisioning-attempts", token)
    JobLease.objects.update(last_started_at=None)
    assert sweep_provisioning_attempts()["expired"] == 1
    stale.refresh_from_db()
    assert stale.state == AttemptState.EXPIRED


@pytest.mark.django_db
def test_the_daily_reconciliation_runs_once_however_many_beats_send_it():
    from tokens.tasks import reconcile_card_tokens

    first = reconcile_card_tokens()
    assert "cards_checked" in first
    assert reconcile_card_tokens() == {"skipped": True}

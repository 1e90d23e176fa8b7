"""Celery tasks of provisioning: they take an attempt id, never card data.

Queued on commit; ``acks_late`` so a worker that dies mid-call gets the task redelivered (the
atomic claim keeps the call single); time limits stay well below the broker's visibility timeout.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from issuer_portal.core.leases import job_lease
from provisioning import services
from provisioning.models import AttemptState, ProvisioningAttempt
from tokens.tasks import REFRESH_TIME_LIMIT

logger = logging.getLogger(__name__)

TASK_SOFT_TIME_LIMIT = 60
TASK_TIME_LIMIT = 90
SWEEP_TIME_LIMIT = 300
MAX_RETRY_COUNTDOWN = 120  # retry_delay() caps at 60 s plus jitter; so do rate-limit waits
INLINE_RATE_WAIT = 1.0  # a worker waits this long for its rate-limit slot; longer, it retries
SLOT_GRACE = 0.5  # a reserved second still used when the retry starts this late into it


def check_visibility_timeout() -> None:
    """Redis redelivers a task not acknowledged within the visibility timeout: a countdown or a
    running task longer than that would run twice. Raises ImproperlyConfigured at startup."""
    from django.core.exceptions import ImproperlyConfigured

    longest = max(
        TASK_TIME_LIMIT,
        SWEEP_TIME_LIMIT,
        REFRESH_TIME_LIMIT,
        MAX_RETRY_COUNTDOWN + TASK_TIME_LIMIT,
        settings.VIPPS_READ_TIMEOUT + 1,
    )
    if settings.CELERY_VISIBILITY_TIMEOUT <= longest:
        raise ImproperlyConfigured(
            f"CELERY_VISIBILITY_TIMEOUT ({settings.CELERY_VISIBILITY_TIMEOUT} s) must exceed the "
            f"longest countdown or task time limit ({longest} s)."
        )


@shared_task(
    bind=True,
    name="provisioning.tasks.provision_card",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by PROVISIONING_MAX_TRIES and the attempt's age instead
    soft_time_limit=TASK_SOFT_TIME_LIMIT,
    time_limit=TASK_TIME_LIMIT,
    ignore_result=True,
)
def provision_card(self, attempt_id: int, slot_at: float | None = None) -> str:
    """Try the attempt's upstream call; retry transient failures with backoff and jitter.

    Calls keep to VIPPS_RATE_LIMIT_PER_SECOND: a task reserves a second with room and waits for
    it, in the worker when it is near, else as a retry that keeps the reservation (``slot_at``).
    """
    attempt = ProvisioningAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or attempt.state != AttemptState.REQUESTED:
        return "nothing to do"  # idempotent: finished, expired or already linked
    now = time.time()
    if slot_at is not None and slot_at - 1 <= now < slot_at + SLOT_GRACE:
        time.sleep(max(0.0, slot_at - now))  # the second reserved before this retry
        slot = round(slot_at)
    else:
        # No reservation, or one for a second already gone (the task ran late): a new one.
        wait = services.wait_for_vipps_slot(now=now)
        if wait > INLINE_RATE_WAIT:
            raise self.retry(
                countdown=wait, args=(), kwargs=_kwargs(attempt_id, slot_at=now + wait)
            )
        time.sleep(wait)
        slot = round(now + wait) if wait else int(now)
    outcome = services.try_upstream_call(attempt_id, slot=slot)
    if outcome == services.TryOutcome.RATE_LIMITED:
        # Ready only after its second, and the current one was full: a new reservation.
        raise self.retry(countdown=0, args=(), kwargs=_kwargs(attempt_id))
    attempt.refresh_from_db()
    if outcome == services.TryOutcome.NOT_CLAIMED and attempt.state == AttemptState.REQUESTED:
        # Someone else is calling right now; look again after their lease.
        raise self.retry(
            countdown=settings.VIPPS_READ_TIMEOUT + 1, args=(), kwargs=_kwargs(attempt_id)
        )
    if outcome == services.TryOutcome.TRANSIENT:
        if services.may_retry(attempt):
            # Without the spent reservation: each try reserves its own second.
            raise self.retry(
                countdown=services.plan_retry(attempt), args=(), kwargs=_kwargs(attempt_id)
            )
        services.give_up(attempt)
    return outcome.value


def _kwargs(attempt_id: int, *, slot_at: float | None = None) -> dict[str, object]:
    return {"attempt_id": attempt_id, "slot_at": slot_at}


@shared_task(
    name="provisioning.tasks.sweep_provisioning_attempts",
    acks_late=True,
    soft_time_limit=SWEEP_TIME_LIMIT - 60,
    time_limit=SWEEP_TIME_LIMIT,
    ignore_result=True,
)
def sweep_provisioning_attempts() -> dict[str, int]:
    """Periodic: no attempt stays pending forever (also when the broker was down at the click).
    One sweep at a time across every beat and worker (a second beat during a deploy)."""
    with job_lease(
        "sweep-provisioning-attempts",
        at_most_every=settings.PROVISIONING_SWEEP_SECONDS / 2,
        longest_run=SWEEP_TIME_LIMIT,
    ) as mine:
        if not mine:
            return {}
        counts = services.sweep_attempts()
    if any(counts.values()):
        logger.info("provisioning sweep: %s", counts)
    return counts

"""The retry policy of upstream calls: backoff with jitter, the limits, and queueing the retry."""

from __future__ import annotations

import datetime
import logging

from celery import signature
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from issuer_portal.core.backoff import backoff_delay
from issuer_portal.core.metrics import PROVISIONING_RETRIES
from provisioning.models import AttemptState, ProvisioningAttempt

logger = logging.getLogger(__name__)

# The task is named, not imported: tasks call the services, so importing it back would be a cycle.
PROVISION_TASK = "provisioning.tasks.provision_card"


def retry_delay(tries: int) -> float:
    """Exponential backoff with jitter, capped at a minute."""
    return backoff_delay(tries, settings.PROVISIONING_RETRY_BASE_SECONDS)


def may_retry(attempt: ProvisioningAttempt) -> bool:
    return (
        attempt.state == AttemptState.REQUESTED
        and attempt.tries < settings.PROVISIONING_MAX_TRIES
        and attempt.age_seconds < settings.PROVISIONING_MAX_AGE_SECONDS
    )


def plan_retry(attempt: ProvisioningAttempt, *, countdown: float | None = None) -> float:
    """Note when the attempt's next try is due (the sweeper reads it); returns the delay.

    The one place the backoff is applied: by the click's first try (schedule_retry) and by the
    task retrying itself.
    """
    delay = retry_delay(attempt.tries) if countdown is None else countdown
    PROVISIONING_RETRIES.inc()
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        retry_due_at=timezone.now() + datetime.timedelta(seconds=delay)
    )
    return delay


def schedule_retry(attempt: ProvisioningAttempt, *, countdown: float | None = None) -> None:
    """Queue the retry task after the current transaction commits (id only, no card data)."""
    delay = plan_retry(attempt, countdown=countdown)

    def enqueue() -> None:
        try:
            signature(PROVISION_TASK, args=[attempt.pk]).apply_async(countdown=delay)
        except Exception:
            logger.exception("could not queue provisioning attempt %s", attempt.public_id)

    transaction.on_commit(enqueue)

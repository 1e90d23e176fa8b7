"""Housekeeping of the API."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from issuer_portal.api.models import IdempotencyKey
from issuer_portal.core.leases import job_lease


@shared_task(name="api.tasks.purge_idempotency_keys", ignore_result=True, time_limit=300)
def purge_idempotency_keys() -> int:
    """Delete idempotency keys past their retention (IDEMPOTENCY_KEY_HOURS, 24 by default); one
    run at a time across every beat and worker (a second run after it deletes nothing)."""
    with job_lease("purge-idempotency-keys", at_most_every=0, longest_run=300) as mine:
        if not mine:
            return 0
        cutoff = timezone.now() - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
        deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
        return deleted

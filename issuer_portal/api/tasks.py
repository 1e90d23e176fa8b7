"""Housekeeping of the API."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from issuer_portal.api.models import IdempotencyKey


@shared_task(name="api.tasks.purge_idempotency_keys", ignore_result=True, time_limit=300)
def purge_idempotency_keys() -> int:
    """Delete idempotency keys past their retention (IDEMPOTENCY_KEY_HOURS, 24 by default)."""
    cutoff = timezone.now() - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted

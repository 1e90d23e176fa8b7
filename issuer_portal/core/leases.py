"""One run of a periodic job at a time across every process, and not more often than it should.

Beat schedulers may overlap during a deploy (the old one still running while the new one
starts), and each sends every periodic job; a worker then runs whatever it receives. A job run
under ``job_lease`` first takes the job's row (core.models.JobLease) with one conditional
UPDATE: only if nobody holds it and it did not start within ``at_most_every`` seconds. So two
schedulers never make a sweep or a reconciliation run twice at once, or twice in one interval.
A run that dies keeps the lease until ``longest_run`` has passed, then anyone may take it.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from issuer_portal.core.models import JobLease

logger = logging.getLogger(__name__)

_NEVER = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def take_job_lease(name: str, *, at_most_every: float, longest_run: float) -> str | None:
    """Take the lease of job ``name``; returns the holder's token, or None when another run
    holds it or one started less than ``at_most_every`` seconds ago."""
    now = timezone.now()
    try:
        with transaction.atomic():
            JobLease.objects.get_or_create(name=name, defaults={"held_until": _NEVER})
    except IntegrityError:  # created by a run that started at the same moment
        pass
    token = uuid.uuid4().hex
    taken = (
        JobLease.objects.filter(name=name, held_until__lte=now)
        .filter(
            Q(last_started_at__isnull=True)
            | Q(last_started_at__lte=now - datetime.timedelta(seconds=at_most_every))
        )
        .update(
            holder=token,
            held_until=now + datetime.timedelta(seconds=longest_run),
            last_started_at=now,
        )
    )
    return token if taken else None


def release_job_lease(name: str, token: str) -> None:
    """Give the lease back (the job's next run still waits for ``at_most_every``)."""
    JobLease.objects.filter(name=name, holder=token).update(holder="", held_until=timezone.now())


@contextmanager
def job_lease(name: str, *, at_most_every: float, longest_run: float) -> Iterator[bool]:
    """``with job_lease(...) as mine:`` run the job only ``if mine``; released on the way out."""
    token = take_job_lease(name, at_most_every=at_most_every, longest_run=longest_run)
    if token is None:
        logger.info("periodic job %s skipped: another run holds it or ran moments ago", name)
        yield False
        return
    try:
        yield True
    finally:
        release_job_lease(name, token)

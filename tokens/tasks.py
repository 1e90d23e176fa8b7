"""Token tasks: the periodic status refresh, token changes (retried) and their sweeper, and the
daily reconciliation of tokens with card states."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from issuer_portal.cards.models import Card
from issuer_portal.core.db import in_pk_chunks
from issuer_portal.core.leases import job_lease
from tokens import card_events, lifecycle
from tokens.models import TokenChange
from tokens.services import iter_refreshed_wallet_states

logger = logging.getLogger(__name__)

REFRESH_TIME_LIMIT = 3300


@shared_task(
    name="tokens.tasks.refresh_all_token_statuses",
    acks_late=True,
    soft_time_limit=REFRESH_TIME_LIMIT - 300,
    time_limit=REFRESH_TIME_LIMIT,
    ignore_result=True,
)
def refresh_all_token_statuses() -> int:
    """Refresh every card's status in rate-limited batches; returns how many were refreshed
    (0 when another run holds the job: one refresh at a time across every beat and worker)."""
    with job_lease(
        "refresh-token-statuses",
        at_most_every=settings.TOKEN_REFRESH_INTERVAL_MINUTES * 30.0,
        longest_run=REFRESH_TIME_LIMIT,
    ) as mine:
        if not mine:
            return 0
        cards = in_pk_chunks(Card.objects.select_related("cardholder"), 500)
        return sum(1 for _ in iter_refreshed_wallet_states(cards=cards))


@shared_task(
    bind=True,
    name="tokens.tasks.apply_token_change",
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # counted on the row: TOKEN_CHANGE_MAX_TRIES
)
def apply_token_change(self: Task, change_id: int) -> str:
    """Make a pending token change; retry while the token service is down, then fail it."""
    outcome = lifecycle.apply_token_change(change_id)
    if outcome == lifecycle.ChangeOutcome.TRANSIENT:
        change = TokenChange.objects.select_related("card__cardholder").get(pk=change_id)
        if change.tries >= settings.TOKEN_CHANGE_MAX_TRIES:
            lifecycle.fail_change(change, "TOKEN_SERVICE_UNAVAILABLE")
            return lifecycle.ChangeOutcome.FAILED.value
        raise self.retry(countdown=lifecycle.plan_retry(change), args=[change_id])
    return outcome.value


@shared_task(name="tokens.tasks.sweep_token_changes", ignore_result=True, time_limit=300)
def sweep_token_changes() -> int:
    """Queue token changes whose task was lost (the broker was down, a worker died)."""
    with job_lease(
        "sweep-token-changes",
        at_most_every=settings.PROVISIONING_SWEEP_SECONDS / 2,
        longest_run=300,
    ) as mine:
        return lifecycle.sweep_token_changes() if mine else 0


@shared_task(name="tokens.tasks.reconcile_card_tokens", ignore_result=True, time_limit=3300)
def reconcile_card_tokens() -> dict:
    """Daily: fix active tokens on blocked cards and live tokens on closed ones. Once a day
    however many beats send it: a second run within 12 hours is skipped."""
    with job_lease("reconcile-card-tokens", at_most_every=12 * 3600, longest_run=3300) as mine:
        if not mine:
            return {"skipped": True}
        report = card_events.reconcile_card_tokens()
    if report["cards_fixed"]:
        logger.warning(
            "reconciliation fixed %d card(s): %d suspension(s), %d deletion(s)",
            len(report["cards_fixed"]),
            report["suspended"],
            report["deleted"],
        )
    return report

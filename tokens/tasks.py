"""Periodic refresh of token statuses, for banks that want the status warm."""

from __future__ import annotations

from celery import shared_task

from issuer_portal.cards.models import Card
from tokens.services import iter_refreshed_wallet_states

REFRESH_TIME_LIMIT = 3300


@shared_task(
    name="tokens.tasks.refresh_all_token_statuses",
    acks_late=True,
    soft_time_limit=REFRESH_TIME_LIMIT - 300,
    time_limit=REFRESH_TIME_LIMIT,
    ignore_result=True,
)
def refresh_all_token_statuses() -> int:
    """Refresh every card's status in rate-limited batches; returns how many were refreshed."""
    cards = Card.objects.select_related("cardholder").order_by("pk").iterator(chunk_size=500)
    return sum(1 for _ in iter_refreshed_wallet_states(cards=cards))

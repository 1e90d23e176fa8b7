"""Changing a card's tokens: who may do what now, one pending change per token, the call to the
token service, and what we show once it is confirmed.

A change is a TokenChange row first (so nothing is lost when the service is down), then one
call by whoever claims it: the request that asked (interactive callers try at once), or the
``tokens.tasks.apply_token_change`` task, which retries transient failures; the sweeper queues
changes whose task was lost.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from celery import signature
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.list_version import note_card_list_changed
from issuer_portal.cards.models import Card
from issuer_portal.core.audit import record_audit
from issuer_portal.core.backoff import backoff_delay
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from tokens.adapters import adapter_for_network
from tokens.adapters.base import STATUS_AFTER, ChangeOrder, TokenServiceError
from tokens.models import (
    Actor,
    CardToken,
    ChangeReason,
    ChangeState,
    TokenAction,
    TokenChange,
    TokenStatus,
)
from tokens.services import show_our_tokens

logger = logging.getLogger(__name__)

# From which statuses each change can be made.
CHANGEABLE_FROM = {
    TokenAction.SUSPEND: {TokenStatus.ACTIVE},
    TokenAction.RESUME: {TokenStatus.SUSPENDED},
    TokenAction.DELETE: {TokenStatus.ACTIVE, TokenStatus.SUSPENDED, TokenStatus.INACTIVE},
    TokenAction.UPDATE_FUNDING_ACCOUNT: {
        TokenStatus.ACTIVE,
        TokenStatus.SUSPENDED,
        TokenStatus.INACTIVE,
    },
}
# The changes a person or a system may ask for on one token (a funding-account update follows
# a reissued card only).
TOKEN_ACTIONS = (TokenAction.SUSPEND, TokenAction.RESUME, TokenAction.DELETE)


# By name: the task module imports this one.
APPLY_TASK = "tokens.tasks.apply_token_change"


class ChangeOutcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    TRANSIENT = "transient"  # the service is down or slow: the change waits for a retry
    NOT_CLAIMED = "not_claimed"  # someone else is making the call, or it is finished


def may_resume(token: CardToken, actor: Actor) -> bool:
    """A suspension is lifted by whoever may overrule the one who made it: the cardholder only
    their own; the bank's systems only their own (a card unblocked); staff any."""
    if actor == Actor.BANK_STAFF:
        return True
    return token.changed_by == actor


def allowed_actions(token: CardToken, actor: Actor) -> list[TokenAction]:
    """The changes ``actor`` may ask for on ``token`` now."""
    return [
        action
        for action in TOKEN_ACTIONS
        if token.status in CHANGEABLE_FROM[action]
        and (action != TokenAction.RESUME or may_resume(token, actor))
    ]


def request_token_change(
    *,
    token: CardToken,
    action: str,
    reason: str,
    actor: Actor,
    user: Any = None,
    new_card: Card | None = None,
    try_now: bool = False,
) -> TokenChange:
    """Record a change of ``token`` and have it made: at once when ``try_now`` (someone is
    waiting), else by a task queued on commit.

    Returns the TokenChange (``done`` at once when the token is already in the asked-for state;
    the pending change itself when the same change is already under way). Raises DomainError:
    ``invalid`` for an unknown action or reason, ``conflict`` when the change is not allowed
    now (resuming a bank's suspension, a deleted token, another change under way).
    """
    if action not in TokenAction.values:
        raise DomainError(ErrorCode.INVALID, f"action must be one of {', '.join(TOKEN_ACTIONS)}")
    if reason not in ChangeReason.values:
        raise DomainError(
            ErrorCode.INVALID, "reason must be one of " + ", ".join(ChangeReason.values)
        )
    action = TokenAction(action)
    try:
        with transaction.atomic():
            change = _record_change(token, action, ChangeReason(reason), actor, user, new_card)
    except IntegrityError:
        # Another request recorded a change of this token at the same moment (no row locks).
        change = _pending_change(token)
        if change is None or change.action != action:
            raise DomainError(ErrorCode.CONFLICT, str(UNDER_WAY)) from None
    if change.state == ChangeState.PENDING:
        if try_now:
            if apply_token_change(change.pk) == ChangeOutcome.TRANSIENT:
                change.refresh_from_db()
                queue_change(change, countdown=plan_retry(change))
            change.refresh_from_db()
        else:
            transaction.on_commit(lambda: queue_change(change))
    return change


UNDER_WAY = _("Another change of this device is under way. Please wait a moment.")


def _pending_change(token: CardToken) -> TokenChange | None:
    return TokenChange.objects.filter(token=token, state=ChangeState.PENDING).first()


def _record_change(
    token: CardToken,
    action: TokenAction,
    reason: ChangeReason,
    actor: Actor,
    user: Any,
    new_card: Card | None,
) -> TokenChange:
    # Requests for one token queue here: each sees the one before it.
    token = CardToken.objects.select_for_update().get(pk=token.pk)
    pending = _pending_change(token)
    if pending is not None:
        if pending.action == action:
            return pending  # the same request again (a double click, a retried API call)
        raise DomainError(ErrorCode.CONFLICT, str(UNDER_WAY))
    done = action in STATUS_AFTER and token.status == STATUS_AFTER[action]
    if not done and (
        token.status not in CHANGEABLE_FROM[action]
        or (action == TokenAction.RESUME and not may_resume(token, actor))
    ):
        raise DomainError(ErrorCode.CONFLICT, refusal_for(token, action))
    change = TokenChange.objects.create(
        token=token,
        card_id=token.card_id,
        token_reference=token.token_reference,
        action=action,
        reason=reason,
        actor=actor,
        actor_user=user if getattr(user, "is_authenticated", False) else None,
        actor_label=user.get_username() if getattr(user, "is_authenticated", False) else actor,
        new_card=new_card,
        # Already in that state: nothing to ask the service; recorded all the same.
        state=ChangeState.DONE if done else ChangeState.PENDING,
        finished_at=timezone.now() if done else None,
    )
    record_audit(
        "tokens.change_requested",
        obj=change,
        actor=user if getattr(user, "is_authenticated", False) else None,
        details={
            "card": str(token.card.public_id),
            "token": str(token.public_id),
            "action": action.value,
            "reason": reason.value,
            "asked_by": actor.value,
            "already_done": done,
        },
    )
    return change


def refusal_for(token: CardToken, action: TokenAction) -> str:
    """Why ``action`` is not possible on ``token`` now, in the person's language."""
    if token.status == TokenStatus.DELETED:
        return str(_("This device was removed; it cannot be changed any more."))
    if action == TokenAction.RESUME and token.status == TokenStatus.SUSPENDED:
        return str(_("The bank paused this device. Contact the bank to resume it."))
    return str(_("This change is not possible for this device now."))


def _claim(change_id: int) -> bool:
    now = timezone.now()
    lease = (
        settings.TOKEN_SERVICE_CONNECT_TIMEOUT + settings.TOKEN_SERVICE_READ_TIMEOUT + CLAIM_MARGIN
    )
    return bool(
        TokenChange.objects.filter(pk=change_id, state=ChangeState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + datetime.timedelta(seconds=lease), tries=F("tries") + 1)
    )


CLAIM_MARGIN = 5.0  # seconds beyond the longest call: a claim held longer belongs to a dead caller


def apply_token_change(change_id: int) -> ChangeOutcome:
    """Claim the change and make its call to the token service once.

    Done: the token row, the cache and the card lists show the new status at once. A permanent
    failure fails the change (visibly); a transient one releases it for a retry. Never raises
    for token-service trouble.
    """
    if not _claim(change_id):
        return ChangeOutcome.NOT_CLAIMED
    change = TokenChange.objects.select_related(
        "token", "card__cardholder", "new_card__cardholder"
    ).get(pk=change_id)
    adapter = adapter_for_network(change.card.network)
    order = ChangeOrder(
        TokenAction(change.action),
        ChangeReason(change.reason),
        Actor(change.actor),
        new_card=change.new_card,
    )
    try:
        statuses = adapter.change_tokens(order, [change.token_reference])
    except TokenServiceError as error:
        logger.warning(
            "token change %s (%s) failed: %s (%s)",
            change.public_id,
            change.action,
            error,
            "permanent" if error.permanent else "transient",
        )
        if error.permanent:
            fail_change(change, "TOKEN_SERVICE_REFUSED")
            return ChangeOutcome.FAILED
        TokenChange.objects.filter(pk=change.pk).update(
            claimed_until=None, retry_due_at=None, error_code="TOKEN_SERVICE_UNAVAILABLE"
        )
        return ChangeOutcome.TRANSIENT
    _confirm(change, statuses[change.token_reference])
    return ChangeOutcome.DONE


def _confirm(change: TokenChange, status: TokenStatus) -> None:
    """The service made the change: our row, the change and its audit entry in one commit,
    then the cached state of the card (and of the new card, for a move)."""
    now = timezone.now()
    token = change.token
    with transaction.atomic():
        fields: dict[str, Any] = {"status": status}
        if status != token.status:
            fields.update(status_since=now, changed_by=change.actor, change_reason=change.reason)
        if change.new_card is not None:
            fields["card"] = change.new_card
        CardToken.objects.filter(pk=token.pk).update(**fields, updated_at=now)
        TokenChange.objects.filter(pk=change.pk).update(
            state=ChangeState.DONE, finished_at=now, claimed_until=None, error_code=""
        )
        record_audit(
            "tokens.changed",
            obj=change,
            actor=change.actor_user,
            details={"status": status.value, "action": change.action, "reason": change.reason},
        )
    cards = [change.card] + ([change.new_card] if change.new_card is not None else [])
    for card in cards:
        show_our_tokens(card)
    logger.info("token change %s done: %s", change.public_id, status)


def fail_change(change: TokenChange, code: str) -> None:
    failed = TokenChange.objects.filter(pk=change.pk, state=ChangeState.PENDING).update(
        state=ChangeState.FAILED, error_code=code, finished_at=timezone.now(), claimed_until=None
    )
    if failed:
        record_audit(
            "tokens.change_failed",
            outcome="failure",
            obj=change,
            actor=change.actor_user,
            details={"error_code": code, "action": change.action},
        )
        note_card_list_changed([change.card.cardholder])


def plan_retry(change: TokenChange) -> float:
    """Note when the change's next try is due (the sweeper reads it); returns the delay. The
    one place the backoff is applied: by the first try's caller and by the task."""
    delay = backoff_delay(change.tries, settings.TOKEN_CHANGE_RETRY_BASE_SECONDS)
    TokenChange.objects.filter(pk=change.pk).update(
        retry_due_at=timezone.now() + datetime.timedelta(seconds=delay)
    )
    return delay


def queue_change(change: TokenChange, *, countdown: float = 0.0) -> None:
    """Queue the change's task; when the broker is down the sweeper queues it later."""
    try:
        signature(APPLY_TASK, args=[change.pk]).apply_async(countdown=countdown)
    except Exception:  # any broker failure: the row is the record, not the message
        logger.exception("could not queue token change %s", change.public_id)


def sweep_token_changes(*, lost_after: float | None = None) -> int:
    """Queue pending changes nobody works on (a lost task, a dead worker); returns how many."""
    now = timezone.now()
    quiet_since = now - datetime.timedelta(
        seconds=lost_after if lost_after is not None else settings.PROVISIONING_LOST_AFTER_SECONDS
    )
    lost = TokenChange.objects.filter(state=ChangeState.PENDING).filter(
        # Claimed, and the claim outlived any call: its caller died mid-call.
        Q(claimed_until__lt=now)
        # Not claimed, and its queued retry is late, or it was never tried: the task was lost.
        | Q(claimed_until__isnull=True, retry_due_at__lt=quiet_since)
        | Q(claimed_until__isnull=True, retry_due_at__isnull=True, created_at__lt=quiet_since)
    )
    queued = 0
    for change in lost:
        released = TokenChange.objects.filter(
            pk=change.pk, state=ChangeState.PENDING, claimed_until=change.claimed_until
        ).update(claimed_until=None)
        if released:
            queue_change(change)
            queued += 1
    return queued


def pause_device_everywhere(
    *, cards: Iterable[Card], device_id: str, user: Any, reason: str = ChangeReason.DEVICE_LOST
) -> list[TokenChange]:
    """ "I lost my phone": pause the device's active tokens on every one of ``cards`` (the
    cardholder's), each as its own change made at once (or retried). Returns the changes; a
    device already paused everywhere gives none. Raises DomainError (invalid) for a device that
    holds none of the cards."""
    tokens = list(
        CardToken.objects.filter(card__in=list(cards), device_id=device_id)
        .exclude(device_id="")
        .select_related("card")
    )
    if not tokens:
        raise DomainError(ErrorCode.INVALID, str(_("Choose one of your phones.")))
    changes = []
    for token in tokens:
        if token.status != TokenStatus.ACTIVE:
            continue
        try:
            changes.append(
                request_token_change(
                    token=token,
                    action=TokenAction.SUSPEND,
                    reason=reason,
                    actor=Actor.CARDHOLDER,
                    user=user,
                    try_now=True,
                )
            )
        except DomainError as refused:  # another change of this token is under way
            logger.info("lost phone: token %s left as it is: %s", token.public_id, refused.code)
    return changes

"""The bank's own systems drive the tokens: a card blocked, unblocked, closed or reissued, and the
daily reconciliation that finds and fixes drift (an active token on a blocked or closed card).

Each token change is a TokenChange queued on commit (retried by its task); a card event is
recorded once by its id, so a replay changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from issuer_portal.cards.models import UNUSABLE_STATES, Card, CardState
from issuer_portal.core.audit import record_audit
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from tokens import lifecycle
from tokens.models import (
    Actor,
    CardEvent,
    CardToken,
    ChangeReason,
    ChangeState,
    TokenAction,
    TokenChange,
    TokenStatus,
)
from tokens.services import iter_refreshed_wallet_states, show_our_tokens

logger = logging.getLogger(__name__)

REISSUED = "reissued"
CARD_EVENT_KINDS = (CardState.ACTIVE, CardState.BLOCKED, CardState.CLOSED, REISSUED)
DEFAULT_REASON = {
    CardState.ACTIVE: ChangeReason.OTHER,
    CardState.BLOCKED: ChangeReason.OTHER,
    CardState.CLOSED: ChangeReason.ACCOUNT_CLOSED,
    REISSUED: ChangeReason.CARD_REISSUED,
}
LIVE = (TokenStatus.ACTIVE, TokenStatus.SUSPENDED, TokenStatus.INACTIVE)


def apply_card_event(
    *,
    event_id: str,
    card: Card,
    kind: str,
    source: str,
    reason: str = "",
    new_card: Card | None = None,
    user: Any = None,
) -> tuple[CardEvent, bool]:
    """Apply a card event once: the card's new state, and a change for each of its tokens
    (blocked: suspend the active ones; active again: resume only those the bank's systems
    suspended; closed: delete all; reissued: move all to ``new_card``).

    Returns (event, created); a replayed ``event_id`` returns the first event and changes
    nothing. Raises DomainError (invalid) for an unknown kind or reason, a reissue without a
    new card of the same cardholder, or an event id reused for another card or kind.
    """
    if kind not in CARD_EVENT_KINDS:
        raise DomainError(ErrorCode.INVALID, f"event must be one of {', '.join(CARD_EVENT_KINDS)}")
    reason = reason or DEFAULT_REASON[kind]
    if reason not in ChangeReason.values:
        raise DomainError(ErrorCode.INVALID, "reason must be one of " + ", ".join(ChangeReason))
    if kind == REISSUED and (
        new_card is None or new_card.pk == card.pk or new_card.cardholder_id != card.cardholder_id
    ):
        raise DomainError(ErrorCode.INVALID, "a reissue names a new card of the same cardholder")
    existing = _replayed(event_id, card, kind)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            event = _apply(event_id, card, kind, reason, new_card, source, user)
    except IntegrityError:
        existing = _replayed(event_id, card, kind)  # the same event, delivered twice at once
        if existing is None:
            raise
        return existing, False
    logger.info(
        "card event %s (%s) for card %s: %d token change(s)",
        event_id,
        kind,
        card.public_id,
        event.token_changes,
    )
    return event, True


def _replayed(event_id: str, card: Card, kind: str) -> CardEvent | None:
    existing = CardEvent.objects.filter(event_id=event_id).first()
    if existing is not None and (existing.card_id != card.pk or existing.kind != kind):
        raise DomainError(ErrorCode.INVALID, "this event id was used for another event")
    return existing


def _apply(
    event_id: str,
    card: Card,
    kind: str,
    reason: str,
    new_card: Card | None,
    source: str,
    user: Any,
) -> CardEvent:
    card = Card.objects.select_for_update().select_related("cardholder").get(pk=card.pk)
    event = CardEvent.objects.create(
        event_id=event_id, card=card, kind=kind, new_card=new_card, reason=reason, source=source
    )
    if kind == REISSUED:
        if new_card.replaces_id != card.pk:
            new_card.replaces = card
            new_card.save(update_fields=["replaces"])
    elif card.state != kind:
        card.state = kind
        card.save(update_fields=["state"])  # provisioning ends the card's attempts in flight
    if kind == REISSUED:
        # Until the moves are confirmed the new card shows the tokens on their way to it.
        # Registered before the moves: with a worker at hand they may be confirmed at commit.
        transaction.on_commit(lambda: show_our_tokens(new_card, from_card=card))
    changes = _change_tokens(card, kind, reason, new_card, user)
    event.token_changes = changes
    event.save(update_fields=["token_changes"])
    record_audit(
        "cards.card_event",
        obj=card,
        actor=user if getattr(user, "is_authenticated", False) else None,
        details={
            "event_id": event_id,
            "event": kind,
            "reason": reason,
            "source": source,
            "token_changes": changes,
            **({"new_card": str(new_card.public_id)} if new_card is not None else {}),
        },
    )
    return event


def _plan(card: Card, kind: str) -> list[tuple[CardToken, TokenAction]]:
    tokens = CardToken.objects.filter(card=card, status__in=LIVE)
    if kind == CardState.BLOCKED:
        return [(t, TokenAction.SUSPEND) for t in tokens if t.status == TokenStatus.ACTIVE]
    if kind == CardState.ACTIVE:
        return [
            (t, TokenAction.RESUME)
            for t in tokens
            if t.status == TokenStatus.SUSPENDED and t.changed_by == Actor.BANK_SYSTEM
        ]
    if kind == CardState.CLOSED:
        return [(t, TokenAction.DELETE) for t in tokens]
    return [(t, TokenAction.UPDATE_FUNDING_ACCOUNT) for t in tokens]


def _change_tokens(
    card: Card,
    kind: str,
    reason: str,
    new_card: Card | None = None,
    user: Any = None,
    *,
    skip: frozenset[int] = frozenset(),
) -> int:
    """Queue a change (on commit) for each token the event touches, except the tokens in
    ``skip`` (by pk); returns how many."""
    count = 0
    for token, action in _plan(card, kind):
        if token.pk in skip:
            continue
        try:
            lifecycle.request_token_change(
                token=token,
                action=action,
                reason=reason,
                actor=Actor.BANK_SYSTEM,
                user=user,
                new_card=new_card if action == TokenAction.UPDATE_FUNDING_ACCOUNT else None,
            )
            count += 1
        except DomainError as refused:
            # Another change of the token is under way; the reconciliation catches up.
            logger.warning("token %s left for now: %s", token.public_id, refused.code)
    return count


def reconcile_card_tokens(*, refresh: bool = True) -> dict[str, Any]:
    """Find active tokens on blocked cards and live tokens on closed cards (after asking the
    token service again, when ``refresh``) and queue the changes that fix them.

    Returns the counts and the cards fixed (by public id); audited.
    """
    drifting = Card.objects.filter(
        state__in=UNUSABLE_STATES, network_tokens__status__in=LIVE
    ).distinct()
    cards = list(drifting.select_related("cardholder"))
    if refresh and cards:
        # Our copy of the tokens follows the service's answers as they come.
        sum(1 for _state in iter_refreshed_wallet_states(cards=cards))
    report: dict[str, Any] = {"cards_checked": len(cards), "suspended": 0, "deleted": 0}
    fixed = []
    # A token with a change under way is left to it (it is not drift yet).
    busy = frozenset(
        TokenChange.objects.filter(card__in=cards, state=ChangeState.PENDING).values_list(
            "token_id", flat=True
        )
    )
    for card in cards:
        kind = card.state
        changed = _change_tokens(card, kind, DEFAULT_REASON[kind], skip=busy)
        report["suspended" if kind == CardState.BLOCKED else "deleted"] += changed
        if changed:
            fixed.append(str(card.public_id))
    report["cards_fixed"] = fixed
    record_audit(
        "tokens.reconciled",
        object_type="tokens.cardtoken",
        details={k: v for k, v in report.items() if k != "cards_fixed"} | {"cards": len(fixed)},
    )
    return report

"""An attempt's life after it starts: the card rules until the last moment, failing, expiring,
giving up, the user's return, the sweeper, what to tell the user, and the staff's retry/cancel."""

from __future__ import annotations

import datetime
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import record_audit
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from issuer_portal.core.local_time import today
from provisioning.models import IN_FLIGHT_STATES, AttemptState, ProvisioningAttempt
from provisioning.retry_policy import schedule_retry
from tokens.services import forget_wallet_state, wallet_state_for_card
from tokens.status import INELIGIBILITY_TEXT, CardWalletState, WalletStatus, ineligibility

CARDHOLDER_CHANGED = "CARDHOLDER_CHANGED"
NOT_ELIGIBLE_PREFIX = "NOT_ELIGIBLE_"


def refusal_code(card: Card, cardholder_id: int) -> str | None:
    """Why ``card`` may not go to Vipps for this cardholder now (a stable code), or None.

    The card rules only (blocked, expired, network, age, holder): no token-service call, so it
    is cheap enough before every upstream call.
    """
    if card.cardholder_id != cardholder_id:
        return CARDHOLDER_CHANGED
    reason = ineligibility(card, today())
    return f"{NOT_ELIGIBLE_PREFIX}{reason.value.upper()}" if reason else None


def _refusal_message(card: Card, code: str) -> str:
    reason = code.removeprefix(NOT_ELIGIBLE_PREFIX).lower()
    for ineligible, text in INELIGIBILITY_TEXT.items():
        if ineligible.value == reason:
            return str(text)
    return str(_("This card cannot be added."))


def cancel_in_flight_attempts(card: Card) -> int:
    """End the card's pending attempts that its rules no longer allow (blocked, expired, moved).

    Called whenever a card is saved; returns how many were ended.
    """
    ended = 0
    for attempt in ProvisioningAttempt.objects.filter(card=card, state__in=IN_FLIGHT_STATES):
        code = refusal_code(card, attempt.cardholder_id)
        if code:
            fail_attempt(attempt, code)
            ended += 1
    return ended


def fail_attempt(attempt: ProvisioningAttempt, code: str) -> None:
    failed = ProvisioningAttempt.objects.filter(pk=attempt.pk, state__in=IN_FLIGHT_STATES).update(
        state=AttemptState.FAILED,
        error_code=code[:64],
        finished_at=timezone.now(),
        claimed_until=None,
        retry_due_at=None,
    )
    if failed:
        record_audit(
            "provisioning.failed",
            outcome="failure",
            obj=attempt,
            correlation=str(attempt.correlation_id),
            details={"error_code": code[:64]},
        )


def expire_attempt(attempt: ProvisioningAttempt) -> None:
    expired = ProvisioningAttempt.objects.filter(
        pk=attempt.pk, state__in=[*IN_FLIGHT_STATES, AttemptState.RETURNED]
    ).update(
        state=AttemptState.EXPIRED,
        finished_at=timezone.now(),
        claimed_until=None,
        retry_due_at=None,
    )
    if expired:
        record_audit(
            "provisioning.failed",
            outcome="expired",
            obj=attempt,
            correlation=str(attempt.correlation_id),
        )


def give_up(attempt: ProvisioningAttempt) -> None:
    """End a pending attempt that may not be retried any more."""
    attempt.refresh_from_db()
    if attempt.state != AttemptState.REQUESTED:
        return
    if attempt.age_seconds >= settings.PROVISIONING_MAX_AGE_SECONDS:
        expire_attempt(attempt)
    else:
        fail_attempt(attempt, attempt.error_code or "RETRIES_EXHAUSTED")


def mark_returned(attempt: ProvisioningAttempt) -> CardWalletState:
    """The user came back from the app: re-check the card and complete the attempt if added."""
    now = timezone.now()
    returned = ProvisioningAttempt.objects.filter(
        pk=attempt.pk, state=AttemptState.LINK_READY
    ).update(state=AttemptState.RETURNED, returned_at=now)
    if returned:
        record_audit("provisioning.returned", obj=attempt, correlation=str(attempt.correlation_id))
    forget_wallet_state(attempt.card)
    state = wallet_state_for_card(attempt.card, use_cache=False)
    if state.status in (WalletStatus.ADDED, WalletStatus.ADDED_WITH_NFC):
        ProvisioningAttempt.objects.filter(
            pk=attempt.pk, state__in=[AttemptState.LINK_READY, AttemptState.RETURNED]
        ).update(state=AttemptState.COMPLETED, finished_at=now)
    attempt.refresh_from_db()
    return state


def sweep_attempts() -> dict[str, int]:
    """Finish or revive attempts nobody is working on; returns counts by what was done."""
    now = timezone.now()
    max_age = datetime.timedelta(seconds=settings.PROVISIONING_MAX_AGE_SECONDS)
    counts = {"expired": 0, "requeued": 0, "completed": 0}
    stale = ProvisioningAttempt.objects.filter(
        state=AttemptState.REQUESTED, created_at__lt=now - max_age
    )
    for attempt in stale:
        expire_attempt(attempt)
        counts["expired"] += 1
    quiet_since = now - datetime.timedelta(seconds=settings.PROVISIONING_LOST_AFTER_SECONDS)
    lost = ProvisioningAttempt.objects.filter(state=AttemptState.REQUESTED).filter(
        # Claimed, and the claim outlived any call: its worker died mid-call.
        Q(claimed_until__lt=now)
        # Not claimed, and its queued try is late, or it was never tried: the task was lost.
        | Q(claimed_until__isnull=True, retry_due_at__lt=quiet_since)
        | Q(claimed_until__isnull=True, retry_due_at__isnull=True, created_at__lt=quiet_since)
    )
    for attempt in lost:
        # Released only if nobody claimed it since it was read: one requeue per lost attempt.
        released = ProvisioningAttempt.objects.filter(
            pk=attempt.pk, state=AttemptState.REQUESTED, claimed_until=attempt.claimed_until
        ).update(claimed_until=None)
        if released:
            schedule_retry(attempt, countdown=0)
            counts["requeued"] += 1
    # Users who never came back: the card may be in the app anyway.
    unfinished = ProvisioningAttempt.objects.filter(
        state__in=[AttemptState.LINK_READY, AttemptState.RETURNED],
        created_at__lt=now - 3 * max_age,
    ).select_related("card__cardholder")
    for attempt in unfinished:
        state = wallet_state_for_card(attempt.card, use_cache=False)
        if state.status in (WalletStatus.ADDED, WalletStatus.ADDED_WITH_NFC):
            ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
                state=AttemptState.COMPLETED, finished_at=now
            )
            counts["completed"] += 1
        else:
            expire_attempt(attempt)
            counts["expired"] += 1
    return counts


def user_message(attempt: ProvisioningAttempt) -> str:
    """What to tell the cardholder about the attempt, in their language."""
    brand = attempt.cardholder.wallet_brand.label
    if attempt.state == AttemptState.REQUESTED:
        if attempt.tries > 1 or attempt.error_code:
            return str(_("%(brand)s is slow to answer. We keep trying…") % {"brand": brand})
        return str(_("Contacting %(brand)s…") % {"brand": brand})
    if attempt.state == AttemptState.LINK_READY:
        return str(_("Ready: continue in %(brand)s.") % {"brand": brand})
    if attempt.state in (AttemptState.RETURNED, AttemptState.COMPLETED):
        return str(_("Welcome back."))
    if attempt.state == AttemptState.EXPIRED:
        return str(_("This took too long and was stopped. Please try again."))
    if attempt.error_code == CARDHOLDER_CHANGED or attempt.error_code.startswith(
        NOT_ELIGIBLE_PREFIX
    ):
        return _refusal_message(attempt.card, attempt.error_code)
    if attempt.error_code in _REFUSED_BY_VIPPS:
        return str(
            _("%(brand)s could not accept this card. Please contact the bank.") % {"brand": brand}
        )
    if attempt.error_code in ("TLS", "NO_JWE_KEY", "HTTP_401", "HTTP_403", "UNAUTHORIZED"):
        return str(
            _("Adding cards to %(brand)s is unavailable right now. Please try again later.")
            % {"brand": brand}
        )
    return str(
        _("%(brand)s is not answering right now. Please try again in a few minutes.")
        % {"brand": brand}
    )


class NextStep(StrEnum):
    """What can help a cardholder whose attempt did not end with a link."""

    TRY_AGAIN = "try_again"  # now: e.g. the attempt timed out
    TRY_LATER = "try_later"  # Vipps or our connection to it is down: pressing again won't help
    CONTACT_BANK = "contact_bank"  # Vipps refused the card's data: a person must look
    NONE = "none"  # the card cannot be added (blocked, expired, too young, ...)


# Vipps refused what we sent: pressing again sends the same.
_REFUSED_BY_VIPPS = ("REQUEST_VALIDATION_ERROR", "INVALID_REQUEST", "LINK_NOT_ALLOWED")


def next_step_after_failure(attempt: ProvisioningAttempt) -> NextStep:
    """The one action worth offering on a failed or expired attempt."""
    if attempt.state == AttemptState.EXPIRED:
        return NextStep.TRY_AGAIN
    if attempt.error_code == CARDHOLDER_CHANGED or attempt.error_code.startswith(
        NOT_ELIGIBLE_PREFIX
    ):
        return NextStep.NONE
    if attempt.error_code in _REFUSED_BY_VIPPS:
        return NextStep.CONTACT_BANK
    return NextStep.TRY_LATER


def retry_failed_attempt(*, attempt: ProvisioningAttempt) -> None:
    """Put a failed attempt back in the queue, while a cardholder may still be waiting for it.

    Raises DomainError (conflict) when it cannot be retried (not failed, too old, or the card has
    another attempt in flight). Audited.
    """
    attempt.refresh_from_db()
    if attempt.state != AttemptState.FAILED:
        raise DomainError(ErrorCode.CONFLICT, str(_("Only failed attempts can be retried.")))
    if attempt.age_seconds >= settings.PROVISIONING_MAX_AGE_SECONDS:
        raise DomainError(
            ErrorCode.CONFLICT, str(_("Too old to retry: nobody is waiting for it any more."))
        )
    code = refusal_code(attempt.card, attempt.cardholder_id)
    if code:
        raise DomainError(
            ErrorCode.NOT_ELIGIBLE,
            str(_("The card may no longer be added: %(reason)s") % {"reason": code}),
        )
    try:
        with transaction.atomic():
            reopened = ProvisioningAttempt.objects.filter(
                pk=attempt.pk, state=AttemptState.FAILED
            ).update(
                state=AttemptState.REQUESTED, error_code="", finished_at=None, claimed_until=None
            )
    except IntegrityError:
        raise DomainError(
            ErrorCode.CONFLICT, str(_("The card has another attempt in progress."))
        ) from None
    if not reopened:
        raise DomainError(ErrorCode.CONFLICT, str(_("Only failed attempts can be retried.")))
    attempt.refresh_from_db()
    record_audit("provisioning.admin_retry", obj=attempt, correlation=str(attempt.correlation_id))
    schedule_retry(attempt, countdown=0)


def cancel_pending_attempt(*, attempt: ProvisioningAttempt) -> None:
    """Stop an attempt that is still pending (requested or link ready). Audited."""
    cancelled = ProvisioningAttempt.objects.filter(
        pk=attempt.pk, state__in=IN_FLIGHT_STATES
    ).update(
        state=AttemptState.FAILED,
        error_code="CANCELLED",
        finished_at=timezone.now(),
        claimed_until=None,
        retry_due_at=None,
    )
    if not cancelled:
        raise DomainError(ErrorCode.CONFLICT, str(_("Only pending attempts can be cancelled.")))
    record_audit("provisioning.admin_cancel", obj=attempt, correlation=str(attempt.correlation_id))

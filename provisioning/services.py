"""Push provisioning: attempts, the one upstream call per try, retries, returns and NFC links."""

from __future__ import annotations

import datetime
import logging
import random
import uuid
from enum import StrEnum
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuer_portal.audit import record_audit
from issuer_portal.counters import count_in_window
from issuer_portal.domain_errors import DomainError, ErrorCode
from issuer_portal.metrics import PROVISIONING_RETRIES, VIPPS_LATENCY
from issuer_portal.models import Card, Cardholder, today
from issuer_portal.observability import correlation
from provisioning import vipps
from provisioning.jwe import encrypt_card_data
from provisioning.keys import JweKeyError, current_jwe_key
from provisioning.models import (
    IN_FLIGHT_STATES,
    AttemptState,
    Channel,
    ProvisioningAttempt,
    UpstreamCall,
)
from tokens.services import forget_wallet_state, wallet_state_for_card
from tokens.status import (
    INELIGIBILITY_TEXT,
    CardWalletState,
    NextAction,
    WalletStatus,
    ineligibility,
)

logger = logging.getLogger(__name__)

RETURN_SALT = "provisioning-return"
NFC_RETURN_SALT = "nfc-return"
# Where Vipps sends the user back: our pages' paths, defined here for the links we hand out and
# used by provisioning/urls.py for the routes, so the two cannot drift apart.
RETURN_PATH = "provisioning/{attempt_id}/return/"
NFC_RETURN_PATH = "cards/{card_id}/nfc/return/"

# Return links (in Vipps' app, browser histories, shared screenshots) stop working after a day.
RETURN_LINK_MAX_AGE = 24 * 3600


def _link_signature(salt: str, value: str) -> str:
    """A timestamped signature of ``value`` for a link's ``sig`` parameter."""
    return signing.TimestampSigner(salt=salt).sign(value).removeprefix(f"{value}:")


def _link_signature_valid(salt: str, value: str, signature: str) -> bool:
    try:
        signing.TimestampSigner(salt=salt).unsign(
            f"{value}:{signature or ''}", max_age=RETURN_LINK_MAX_AGE
        )
    except signing.BadSignature:  # forged, mangled or expired (SignatureExpired)
        return False
    return True


class TryOutcome(StrEnum):
    LINK_READY = "link_ready"
    TRANSIENT = "transient"
    FAILED = "failed"
    EXPIRED = "expired"
    NOT_CLAIMED = "not_claimed"  # another worker holds it, or it is no longer pending


# --- the card's own rules, checked until the last moment ---------------------------------------

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


# --- starting --------------------------------------------------------------------------------


def _consume_rate_limit(cardholder: Cardholder) -> None:
    """At most PROVISIONING_RATE_LIMIT new attempts per window; atomic (cache incr)."""
    window = settings.PROVISIONING_RATE_WINDOW_SECONDS
    now = int(timezone.now().timestamp())
    used = count_in_window(f"provisioning-rate:{cardholder.public_id}:{now // window}", window)
    if used > settings.PROVISIONING_RATE_LIMIT:
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            str(_("You have started many additions in a short time. Please wait a few minutes.")),
            retry_after=window - now % window,
        )


def _in_flight(card: Card) -> ProvisioningAttempt | None:
    return (
        ProvisioningAttempt.objects.filter(card=card, state__in=IN_FLIGHT_STATES)
        .select_related("card", "cardholder")
        .first()
    )


def start_provisioning(
    *, cardholder: Cardholder, card: Card, channel: str, app_return_url: str = ""
) -> ProvisioningAttempt:
    """Create the card's attempt, or reuse the one in flight (double clicks, reloads, races).

    Eligibility and the age rule are checked again here, whatever the page showed. Raises
    DomainError (not_eligible, rate_limited); nothing is sent to Vipps by this function.
    """
    code = refusal_code(card, cardholder.pk)
    if code:
        # An attempt still in flight from before the card was blocked ends here, unused.
        cancel_in_flight_attempts(card)
        raise DomainError(ErrorCode.NOT_ELIGIBLE, _refusal_message(card, code))
    existing = _in_flight(card)
    if existing is not None and existing.age_seconds <= settings.PROVISIONING_MAX_AGE_SECONDS:
        return existing
    # Checked before taking the lock: it may ask the token service.
    state = wallet_state_for_card(card)
    if state.next_action != NextAction.PUSH_PROVISION:
        raise DomainError(ErrorCode.NOT_ELIGIBLE, state.reason_text or _not_offered_message(state))
    with transaction.atomic():
        # Concurrent starts for one card queue here, so only the first creates (and is counted).
        Card.objects.select_for_update().filter(pk=card.pk).exists()
        existing = _in_flight(card)
        if existing is not None:
            if existing.age_seconds <= settings.PROVISIONING_MAX_AGE_SECONDS:
                return existing
            expire_attempt(existing)
        _consume_rate_limit(cardholder)
        try:
            with transaction.atomic():
                attempt = ProvisioningAttempt.objects.create(
                    card=card,
                    cardholder=cardholder,
                    channel=channel if channel in Channel.values else Channel.WEB,
                    app_return_url=app_return_url,
                )
        except IntegrityError:
            # Databases without row locks (SQLite) can still race: reuse the winner's attempt.
            attempt = _in_flight(card)
            if attempt is None:
                raise
            return attempt
    record_audit(
        "provisioning.initiated",
        obj=attempt,
        correlation=str(attempt.correlation_id),
        details={"card": str(card.public_id), "channel": attempt.channel},
    )
    logger.info(
        "provisioning attempt %s started for card %s (correlation %s)",
        attempt.public_id,
        card.public_id,
        attempt.correlation_id,
    )
    return attempt


def _not_offered_message(state: CardWalletState) -> str:
    if state.status in (WalletStatus.ADDED, WalletStatus.ADDED_WITH_NFC):
        return str(_("This card is already in the app."))
    if state.status == WalletStatus.SUSPENDED:
        return str(_("This card is paused in the app. Contact the bank to resume it."))
    return str(_("We could not check the app right now. Please try again in a minute."))


# --- one try ---------------------------------------------------------------------------------


def _claim(attempt_id: int) -> bool:
    """Take the right to make the upstream call; only one caller wins at a time."""
    now = timezone.now()
    lease = settings.VIPPS_CONNECT_TIMEOUT + settings.VIPPS_READ_TIMEOUT + 10
    claimed = (
        ProvisioningAttempt.objects.filter(pk=attempt_id, state=AttemptState.REQUESTED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(
            claimed_until=now + datetime.timedelta(seconds=lease),
            tries=F("tries") + 1,
            retry_due_at=None,
        )
    )
    return claimed == 1


def _record_call(attempt: ProvisioningAttempt, call: vipps.CallRecord | None) -> None:
    if call is not None and call.duration_ms is not None:
        VIPPS_LATENCY.labels(call.outcome).observe(call.duration_ms / 1000)
    if call is not None:
        UpstreamCall.objects.create(
            attempt=attempt,
            trace_id=call.trace_id,
            status_code=call.status_code,
            error_code=call.error_code,
            duration_ms=call.duration_ms,
            outcome=call.outcome,
            details=list(call.details),
        )


def return_url_for(attempt: ProvisioningAttempt) -> str:
    """Our signed return URL: works without a session and in another browser."""
    signature = _link_signature(RETURN_SALT, str(attempt.public_id))
    path = "/" + RETURN_PATH.format(attempt_id=attempt.public_id)
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'sig': signature})}"


def _request_for(attempt: ProvisioningAttempt) -> vipps.ProvisioningRequest:
    card, holder = attempt.card, attempt.cardholder
    key = current_jwe_key()
    return vipps.ProvisioningRequest(
        encrypted_card_data=encrypt_card_data(pan=card.pan, expiry=card.expiry, key=key),
        country_code=holder.country,
        nin=holder.nin,
        issuer_name=settings.ISSUER_NAME,
        last4=card.last4,
        return_url=attempt.app_return_url or return_url_for(attempt),
        suggested_nickname=vipps.suggested_nickname(card.nickname),
    )


def try_upstream_call(attempt_id: int, *, interactive: bool = False) -> TryOutcome:
    """Claim the attempt and call Vipps once (short read timeout when a user is waiting).

    Records the call; on success the attempt becomes ``link_ready``; a permanent error fails it;
    a transient one releases the claim for a retry. Never raises for Vipps trouble.
    """
    if not _claim(attempt_id):
        return TryOutcome.NOT_CLAIMED
    attempt = ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder").get(
        pk=attempt_id
    )
    with correlation(str(attempt.correlation_id)):
        return _try_claimed(attempt, interactive=interactive)


def _try_claimed(attempt: ProvisioningAttempt, *, interactive: bool) -> TryOutcome:
    if attempt.age_seconds > settings.PROVISIONING_MAX_AGE_SECONDS:
        expire_attempt(attempt)
        return TryOutcome.EXPIRED
    code = refusal_code(attempt.card, attempt.cardholder_id)
    if code:
        logger.warning("provisioning attempt %s: not sent to Vipps: %s", attempt.public_id, code)
        fail_attempt(attempt, code)
        return TryOutcome.FAILED
    try:
        request = _request_for(attempt)
        result = vipps.initiate_provisioning(
            request,
            correlation_id=attempt.correlation_id,
            read_timeout=settings.VIPPS_INTERACTIVE_READ_TIMEOUT if interactive else None,
        )
    except JweKeyError as error:
        logger.error("provisioning attempt %s: no usable JWE key: %s", attempt.public_id, error)
        fail_attempt(attempt, "NO_JWE_KEY")
        return TryOutcome.FAILED
    except vipps.VippsError as error:
        _record_call(attempt, error.call)
        log = logger.error if error.configuration else logger.warning
        log(
            "provisioning attempt %s: %s (code %s, %s, correlation %s)",
            attempt.public_id,
            error.message,
            error.code,
            "permanent" if error.permanent else "transient",
            attempt.correlation_id,
        )
        if error.permanent:
            fail_attempt(attempt, error.code)
            return TryOutcome.FAILED
        ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
            claimed_until=None, error_code=error.code
        )
        return TryOutcome.TRANSIENT
    _record_call(attempt, result.call)
    issued = ProvisioningAttempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED).update(
        state=AttemptState.LINK_READY,
        universal_link=result.universal_link,
        link_ready_at=timezone.now(),
        claimed_until=None,
        error_code="",
    )
    if issued:
        record_audit(
            "provisioning.link_issued",
            obj=attempt,
            correlation=str(attempt.correlation_id),
            details={"trace_id": str(result.call.trace_id)},
        )
    logger.info("provisioning attempt %s: link ready", attempt.public_id)
    return TryOutcome.LINK_READY


def retry_delay(tries: int) -> float:
    """Exponential backoff with jitter, capped at a minute."""
    base = settings.PROVISIONING_RETRY_BASE_SECONDS
    return min(60.0, base * 2 ** max(0, tries - 1)) + random.uniform(0, base)  # noqa: S311


def may_retry(attempt: ProvisioningAttempt) -> bool:
    return (
        attempt.state == AttemptState.REQUESTED
        and attempt.tries < settings.PROVISIONING_MAX_TRIES
        and attempt.age_seconds < settings.PROVISIONING_MAX_AGE_SECONDS
    )


def schedule_retry(attempt: ProvisioningAttempt, *, countdown: float | None = None) -> None:
    """Queue the retry task after the current transaction commits (id only, no card data)."""
    from provisioning.tasks import provision_card

    delay = retry_delay(attempt.tries) if countdown is None else countdown
    PROVISIONING_RETRIES.inc()
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        retry_due_at=timezone.now() + datetime.timedelta(seconds=delay)
    )

    def enqueue() -> None:
        try:
            provision_card.apply_async(args=[attempt.pk], countdown=delay)
        except Exception:
            logger.exception("could not queue provisioning attempt %s", attempt.public_id)

    transaction.on_commit(enqueue)


def give_up(attempt: ProvisioningAttempt) -> None:
    """End a pending attempt that may not be retried any more."""
    attempt.refresh_from_db()
    if attempt.state != AttemptState.REQUESTED:
        return
    if attempt.age_seconds >= settings.PROVISIONING_MAX_AGE_SECONDS:
        expire_attempt(attempt)
    else:
        fail_attempt(attempt, attempt.error_code or "RETRIES_EXHAUSTED")


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


def provision_now_or_later(attempt: ProvisioningAttempt) -> ProvisioningAttempt:
    """One synchronous try while the user waits; on a transient failure, a queued retry."""
    if attempt.state == AttemptState.REQUESTED:
        outcome = try_upstream_call(attempt.pk, interactive=True)
        attempt.refresh_from_db()
        if outcome == TryOutcome.TRANSIENT and may_retry(attempt):
            schedule_retry(attempt)
        elif outcome == TryOutcome.TRANSIENT:
            give_up(attempt)
    return attempt


# --- after the app -----------------------------------------------------------------------------


def attempt_for_return(public_id: uuid.UUID, signature: str) -> ProvisioningAttempt | None:
    """The attempt a signed return URL names, or None when the signature is wrong or expired."""
    if not _link_signature_valid(RETURN_SALT, str(public_id), signature):
        return None
    return (
        ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder")
        .filter(public_id=public_id)
        .first()
    )


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
    lost = ProvisioningAttempt.objects.filter(state=AttemptState.REQUESTED).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        Q(retry_due_at__isnull=True) | Q(retry_due_at__lt=now - datetime.timedelta(seconds=60)),
        updated_at__lt=now - datetime.timedelta(seconds=60),
    )
    for attempt in lost:
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
    if attempt.error_code in ("REQUEST_VALIDATION_ERROR", "INVALID_REQUEST", "LINK_NOT_ALLOWED"):
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


# --- NFC ---------------------------------------------------------------------------------------


def nfc_return_url_for(card: Card) -> str:
    signature = _link_signature(NFC_RETURN_SALT, str(card.public_id))
    path = "/" + NFC_RETURN_PATH.format(card_id=card.public_id)
    return f"{settings.PUBLIC_BASE_URL}{path}?{urlencode({'sig': signature})}"


def card_for_nfc_return(public_id: uuid.UUID, signature: str) -> Card | None:
    if not _link_signature_valid(NFC_RETURN_SALT, str(public_id), signature):
        return None
    return Card.objects.select_related("cardholder").filter(public_id=public_id).first()


def nfc_enrollment_link(*, card: Card, state: CardWalletState) -> str:
    """The direct NFC-enrollment universal link (no API call). Raises DomainError."""
    if state.next_action != NextAction.NFC_ENROLL or not state.ecom_token_reference:
        raise DomainError(
            ErrorCode.NOT_ELIGIBLE,
            state.reason_text or str(_("Contactless cannot be set up for this card.")),
        )
    query = urlencode(
        {
            "expiry": card.expiry,
            "last4": card.last4,
            "token-reference": state.ecom_token_reference,
            "return-url": nfc_return_url_for(card),
        }
    )
    base = settings.VIPPS_NFC_LINK_BASE
    record_audit("provisioning.nfc_link_issued", obj=card)
    return f"{base}{'&' if '?' in base else '?'}{query}"


# --- analytics ---


def record_offers(states: list[CardWalletState], *, channel: str) -> None:
    """Note the cards shown with "Add" today (one insert, duplicates ignored)."""
    from django.utils import timezone as tz

    from provisioning.models import ProvisioningOffer

    day = tz.localdate()
    offers = [
        ProvisioningOffer(
            day=day,
            card_id=state.card.pk,
            channel=channel,
            brand=state.card.cardholder.wallet_brand.value,
            network=state.card.network,
        )
        for state in states
        if state.next_action == NextAction.PUSH_PROVISION
    ]
    if offers:
        ProvisioningOffer.objects.bulk_create(offers, ignore_conflicts=True)


# --- bank staff ----------------------------------------------------------------------------------


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

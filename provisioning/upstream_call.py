"""One upstream call for an attempt: claim it, re-check the card, call Vipps, record the call."""

from __future__ import annotations

import datetime
import functools
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from issuer_portal.core.after_answer import AfterAnswer, in_this_context
from issuer_portal.core.audit import audit_entry
from issuer_portal.core.db import (
    give_back_connection_while_waiting,
    insert_of,
    update_of,
    write_together,
)
from issuer_portal.core.metrics import VIPPS_LATENCY
from issuer_portal.core.observability import correlation
from issuer_portal.core.rate_limit import (
    call_second,
    reserve_slot,
    take_slot_if_room,
    take_slot_now,
)
from provisioning import vipps
from provisioning.jwe import encrypt_card_data
from provisioning.keys import JweKeyError, current_jwe_key
from provisioning.lifecycle import expire_attempt, fail_attempt, give_up, refusal_code
from provisioning.links import return_url_for
from provisioning.models import AttemptState, ProvisioningAttempt, UpstreamCall
from provisioning.retry_policy import may_retry, schedule_retry

logger = logging.getLogger(__name__)


class TryOutcome(StrEnum):
    LINK_READY = "link_ready"
    TRANSIENT = "transient"
    FAILED = "failed"
    EXPIRED = "expired"
    NOT_CLAIMED = "not_claimed"  # another worker holds it, or it is no longer pending
    # Its reserved second had gone and the current one was full: not called, not a try.
    RATE_LIMITED = "rate_limited"


def claim_lease_seconds() -> float:
    """How long a claim lasts: the longest call to Vipps and a margin. A claim held longer
    belongs to a caller that died mid-call (the sweeper looks for those)."""
    return (
        settings.VIPPS_CONNECT_TIMEOUT
        + settings.VIPPS_READ_TIMEOUT
        + settings.PROVISIONING_CLAIM_MARGIN_SECONDS
    )


def _claim(attempt_id: int) -> bool:
    """Take the right to make the upstream call; only one caller wins at a time."""
    now = timezone.now()
    lease = claim_lease_seconds()
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


def _call_row(attempt: ProvisioningAttempt, call: vipps.CallRecord) -> UpstreamCall:
    """The record of a call, not yet saved (and its latency in the metrics)."""
    if call.duration_ms is not None:
        VIPPS_LATENCY.labels(call.outcome).observe(call.duration_ms / 1000)
    return UpstreamCall(
        attempt=attempt,
        started_at=timezone.now() - datetime.timedelta(milliseconds=call.duration_ms or 0),
        trace_id=call.trace_id,
        status_code=call.status_code,
        error_code=call.error_code,
        duration_ms=call.duration_ms,
        outcome=call.outcome,
        details=list(call.details),
    )


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


def try_upstream_call(
    attempt_id: int, *, interactive: bool = False, slot: int | None = None
) -> TryOutcome:
    """Claim the attempt and call Vipps once (short read timeout when a user is waiting).

    Records the call; on success the attempt becomes ``link_ready``; a permanent error fails it;
    a transient one releases the claim for a retry. Never raises for Vipps trouble. ``slot``:
    the second (Unix time) reserved for a background call under VIPPS_RATE_LIMIT_PER_SECOND;
    when the call is ready only after it, it goes out only if the current second has room
    (else RATE_LIMITED, the claim given back).
    """
    return _claim_and_try(
        attempt_id,
        lambda: ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder").get(
            pk=attempt_id
        ),
        interactive=interactive,
        slot=slot,
    )


def _claim_and_try(
    attempt_id: int,
    load: Callable[[], ProvisioningAttempt],
    *,
    interactive: bool,
    slot: int | None = None,
    record_link_after: AfterAnswer | None = None,
) -> TryOutcome:
    """Claim the attempt, then (only if claimed) load it and make the call under its
    correlation id."""
    if not _claim(attempt_id):
        return TryOutcome.NOT_CLAIMED
    attempt = load()
    with correlation(str(attempt.correlation_id)):
        return _try_claimed(
            attempt, interactive=interactive, slot=slot, record_link_after=record_link_after
        )


VIPPS_RATE = "vipps"


def wait_for_vipps_slot(*, now: float | None = None) -> float:
    """Reserve a place for a background call to Vipps under VIPPS_RATE_LIMIT_PER_SECOND; returns
    the seconds to wait before calling (0.0: now), counted from ``now``."""
    limit = settings.VIPPS_RATE_LIMIT_PER_SECOND
    return reserve_slot(VIPPS_RATE, limit, now=now) if limit else 0.0


def _in_a_second_with_room(slot: int | None) -> bool:
    """Whether a background call ready now keeps to the limit in the second it goes out: its
    reserved second if that is still on, else a place taken in the current one. A worker that
    got here late (busy, or a retry that ran behind) would otherwise add its call to a second
    whose places went to others."""
    limit = settings.VIPPS_RATE_LIMIT_PER_SECOND
    if slot is None or not limit:
        return True
    now = time.time()
    return call_second(now) == slot or take_slot_if_room(VIPPS_RATE, limit, now=now)


def _give_back_claim(attempt: ProvisioningAttempt) -> None:
    """Undo the claim of a call that was not made: the attempt's tries are as before, and its
    retry is due now (the caller queues it; the sweeper requeues it only if that retry is lost)."""
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        claimed_until=None, tries=F("tries") - 1, retry_due_at=timezone.now()
    )


def _try_attempt_in_hand(
    attempt: ProvisioningAttempt, record_link_after: AfterAnswer | None = None
) -> TryOutcome:
    """try_upstream_call for the attempt the caller has just started, with its card and
    cardholder loaded: no second read (and decryption) of what is in hand. An attempt created
    claimed for this caller (``claimed_by_caller``) is not claimed again."""
    if getattr(attempt, "claimed_by_caller", False):
        attempt.claimed_by_caller = False  # one try per claim
        with correlation(str(attempt.correlation_id)):
            return _try_claimed(attempt, interactive=True, record_link_after=record_link_after)
    return _claim_and_try(
        attempt.pk, lambda: attempt, interactive=True, record_link_after=record_link_after
    )


def _try_claimed(
    attempt: ProvisioningAttempt,
    *,
    interactive: bool,
    slot: int | None = None,
    record_link_after: AfterAnswer | None = None,
) -> TryOutcome:
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
        count_the_call = None
        if interactive and settings.VIPPS_RATE_LIMIT_PER_SECOND:
            # The cardholder is waiting: counted, never held back, and counted while Vipps
            # answers (the count only tells background calls how much room is left).
            count_the_call = functools.partial(take_slot_now, VIPPS_RATE)
        elif not _in_a_second_with_room(slot):
            _give_back_claim(attempt)
            return TryOutcome.RATE_LIMITED
        give_back_connection_while_waiting()
        result = vipps.initiate_provisioning(
            request,
            correlation_id=attempt.correlation_id,
            read_timeout=settings.VIPPS_INTERACTIVE_READ_TIMEOUT if interactive else None,
            meanwhile=count_the_call,
        )
    except JweKeyError as error:
        logger.error("provisioning attempt %s: no usable JWE key: %s", attempt.public_id, error)
        fail_attempt(attempt, "NO_JWE_KEY")
        return TryOutcome.FAILED
    except vipps.VippsError as error:
        with transaction.atomic():  # the call and what it did to the attempt: one commit
            return _record_failed_call(attempt, error)
    if record_link_after is None:
        return _record_link(attempt, result)
    return _hand_link_over(attempt, result, record_link_after)


def _record_failed_call(attempt: ProvisioningAttempt, error: vipps.VippsError) -> TryOutcome:
    if error.call is not None:
        _call_row(attempt, error.call).save(force_insert=True)
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


def _link_issued(result: vipps.VippsSuccess) -> dict[str, object]:
    """What issuing the link of ``result`` changes on its attempt."""
    return {
        "state": AttemptState.LINK_READY,
        "universal_link": result.universal_link,
        "link_ready_at": timezone.now(),
        "claimed_until": None,
        "error_code": "",
    }


def _write_link_records(
    attempt: ProvisioningAttempt, result: vipps.VippsSuccess, link: dict[str, object]
) -> bool:
    """The call, the link and its audit entry: all or none, in one statement
    (core.db.write_together). The link is issued only to an attempt still requested (one
    cancelled meanwhile keeps its state; the call is recorded all the same): whether it was."""
    entry = audit_entry(
        "provisioning.link_issued",
        obj=attempt,
        correlation=str(attempt.correlation_id),
        details={"trace_id": str(result.call.trace_id)},
    )
    written = write_together(
        call=insert_of(_call_row(attempt, result.call)),
        link=update_of(
            ProvisioningAttempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED),
            **link,
        ),
        audit=insert_of(entry, only_if="link"),
    )
    return bool(written["link"])


def _record_link(attempt: ProvisioningAttempt, result: vipps.VippsSuccess) -> TryOutcome:
    """Record the link while the caller waits; the attempt in hand gets it if it was issued."""
    link = _link_issued(result)
    if _write_link_records(attempt, result, link):
        for name, value in link.items():
            setattr(attempt, name, value)
    logger.info("provisioning attempt %s: link ready", attempt.public_id)
    return TryOutcome.LINK_READY


def _hand_link_over(
    attempt: ProvisioningAttempt, result: vipps.VippsSuccess, record_link_after: AfterAnswer
) -> TryOutcome:
    """The link on the attempt in hand now, for the answer; its records handed to
    ``record_link_after``, to be written once the answer has gone, in this request's context
    (who, from where, under which correlation id)."""
    link = _link_issued(result)
    for name, value in link.items():
        setattr(attempt, name, value)
    record = functools.partial(_record_link_after_answer, attempt, result, link)
    # A caller that answers with the link itself (the web view's redirect to the app) has the
    # link's records written once its answer has gone.
    record_link_after(in_this_context(record))
    return TryOutcome.LINK_READY


def _record_link_after_answer(
    attempt: ProvisioningAttempt, result: vipps.VippsSuccess, link: dict[str, object]
) -> None:
    """The cardholder has the link: a failure here is logged, not raised. The attempt keeps its
    claim, so the sweeper hands it on as it does an attempt whose worker died mid-call (a second
    call under the same X-Request-ID)."""
    try:
        issued = _write_link_records(attempt, result, link)
    except DatabaseError:
        logger.exception("provisioning attempt %s: link given out, not recorded", attempt.public_id)
        return
    if issued:
        logger.info("provisioning attempt %s: link ready", attempt.public_id)
    else:
        logger.warning(
            "provisioning attempt %s: link given out as the attempt was cancelled",
            attempt.public_id,
        )


def provision_now_or_later(
    attempt: ProvisioningAttempt, *, record_link_after: AfterAnswer | None = None
) -> ProvisioningAttempt:
    """One synchronous try while the user waits; on a transient failure, a queued retry.

    ``record_link_after``: for a caller that answers with the link itself; a link comes back on
    the attempt at once and its records (the call, the link, the audit entry) are handed to it,
    to be written after the answer (the cardholder does not wait for them). Without it they are
    written before this returns.
    """
    if attempt.state == AttemptState.REQUESTED:
        outcome = _try_attempt_in_hand(attempt, record_link_after)
        if attempt.state != AttemptState.LINK_READY:  # the link is in hand; else read what is
            attempt.refresh_from_db()
        if outcome == TryOutcome.TRANSIENT and may_retry(attempt):
            schedule_retry(attempt)
        elif outcome == TryOutcome.TRANSIENT:
            give_up(attempt)
    return attempt

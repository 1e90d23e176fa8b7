"""Wallet status of cards: cached, concurrent token-service lookups and token notifications."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from issuer_portal.cards.list_version import note_card_list_changed
from issuer_portal.cards.models import Card
from issuer_portal.core.after_answer import AfterAnswer, now_or_after_answer
from issuer_portal.core.audit import record_audit
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from issuer_portal.core.local_time import today
from issuer_portal.core.metrics import TOKEN_SERVICE_LATENCY, TOKEN_STATUS_CACHE
from tokens.adapters import adapter_for_network
from tokens.adapters.base import NetworkToken, TokenServiceAdapter, TokenServiceError
from tokens.models import (
    TRID_REGISTRY_CACHE_KEY,
    CardToken,
    TokenNotification,
    TokenRequestor,
    TokenStatus,
)
from tokens.status import CardWalletState, TridSet, card_wallet_state

logger = logging.getLogger(__name__)

# Lookups of one page run side by side; HTTP adapters bound each call with their own timeouts.
# One bounded pool per process, made on first use (after gunicorn's fork, never before).
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _lookup_pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    max_workers=settings.TOKEN_LOOKUP_CONCURRENCY,
                    thread_name_prefix="token-lookup",
                )
    return _executor


@dataclass(frozen=True)
class TridRegistry:
    active: TridSet
    known: frozenset[str]  # every registered TRID, deprecated ones included
    # New each time the registry is read from the database: what was built on an older one
    # (a kept card list page) is out of date.
    generation: str = ""


# A safety net only: every change through the ORM drops the cached registry at once.
TRID_REGISTRY_CACHE_SECONDS = 300


def trid_registry() -> TridRegistry:
    """The TRID registry: from the cache, else one query (and cached for the next reader)."""
    return cache.get(TRID_REGISTRY_CACHE_KEY) or _cache_trid_registry()


def _cache_trid_registry() -> TridRegistry:
    registry = _trid_registry_from_database()
    cache.set(TRID_REGISTRY_CACHE_KEY, registry, timeout=TRID_REGISTRY_CACHE_SECONDS)
    return registry


def _trid_registry_from_database() -> TridRegistry:
    """The TRID registry in one query."""
    ecom: dict[str, set[str]] = defaultdict(set)
    nfc: dict[str, set[str]] = defaultdict(set)
    known = set()
    for trid, network, kind, status in TokenRequestor.objects.values_list(
        "trid", "network", "kind", "status"
    ):
        known.add(trid)
        if status == "active":
            (ecom if kind == "ecom" else nfc)[network].add(trid)
    return TridRegistry(
        generation=uuid.uuid4().hex,
        active=TridSet(
            ecom={k: frozenset(v) for k, v in ecom.items()},
            nfc={k: frozenset(v) for k, v in nfc.items()},
        ),
        known=frozenset(known),
    )


def status_cache_key(card: Card) -> str:
    """Keyed by the card's public UUID: never by anything derived from the PAN."""
    return f"wallet-tokens:v1:{card.public_id}"


@dataclass
class _Breaker:
    """Consecutive transient failures of one token service in this process, and until when
    the service is left alone. Per process by design: each process finds out for itself, after
    TOKEN_SERVICE_BREAKER_FAILURES calls of its own, and a shared breaker would let one replica's
    network trouble blank every replica's card lists."""

    failures: int = 0
    open_until: float = 0.0


_breakers: dict[str, _Breaker] = defaultdict(_Breaker)
_breakers_lock = threading.Lock()


def _left_alone(service: str) -> bool:
    """True while the service's circuit is open: its lookups are not sent (status unknown).
    After the pause the next page's lookups go out again; one more failure reopens it."""
    return time.monotonic() < _breakers[service].open_until


def _note_outcome(service: str, *, failed: bool) -> None:
    threshold = settings.TOKEN_SERVICE_BREAKER_FAILURES
    if not threshold:
        return
    with _breakers_lock:
        breaker = _breakers[service]
        if not failed:
            breaker.failures = 0
            return
        breaker.failures += 1
        if breaker.failures >= threshold and not _left_alone(service):
            pause = settings.TOKEN_SERVICE_BREAKER_SECONDS
            breaker.open_until = time.monotonic() + pause
            logger.warning(
                "token service %s: %d failures in a row, left alone for %s s",
                service,
                breaker.failures,
                pause,
            )


def reset_breakers() -> None:
    """Close every circuit (tests, and after staff fixed a token service's configuration)."""
    with _breakers_lock:
        _breakers.clear()


def lookup_tokens(
    cards: Sequence[Card], *, meanwhile: Callable[[], object] | None = None
) -> dict[int, list[NetworkToken] | None]:
    """Ask the token services for every card's tokens, concurrently, within one deadline;
    ``meanwhile`` runs in this thread while the lookups are out.

    Returns card pk -> tokens, or None where the service failed or was too slow.
    """
    results: dict[int, list[NetworkToken] | None] = {}
    # One batch per adapter, not per network: one adapter may serve both networks (the
    # simulator, a processor's gateway), and its batch is prepared once (one read, not two in a
    # row before the second network's lookups can leave).
    by_adapter: dict[TokenServiceAdapter, list[Card]] = defaultdict(list)
    for card in cards:
        if card.network_supported:
            by_adapter[adapter_for_network(card.network)].append(card)
        else:
            results[card.pk] = []  # no Vipps TRIDs exist for other networks
    futures = []
    started = time.monotonic()
    for adapter, group in by_adapter.items():
        if _left_alone(adapter.name):
            # The service kept failing: not hammered while it recovers; the cards show unknown.
            results.update(dict.fromkeys((card.pk for card in group), None))
            TOKEN_SERVICE_LATENCY.labels(adapter.name, "left_alone").observe(0.0)
            continue
        try:
            prepared = adapter.prepare(group)
        except TokenServiceError as error:
            logger.warning("token service %s unavailable: %s", adapter.name, error)
            results.update(dict.fromkeys((card.pk for card in group), None))
            _note_outcome(adapter.name, failed=not error.permanent)
            continue
        futures += [
            (card, adapter, _lookup_pool().submit(adapter.tokens_for_card, card, prepared))
            for card in group
        ]
    deadline = time.monotonic() + settings.TOKEN_LOOKUP_TIMEOUT
    if meanwhile is not None:
        meanwhile()
    # One wait for them all: this thread wakes once, not once per card.
    wait_for_futures(
        [future for _, _, future in futures], timeout=max(0.0, deadline - time.monotonic())
    )
    for card, adapter, future in futures:
        outcome = "success"
        try:
            results[card.pk] = future.result(timeout=0)
        except FutureTimeout:
            logger.warning("token lookup for card %s timed out (%s)", card.public_id, adapter.name)
            results[card.pk] = None
            outcome = "timeout"
        except TokenServiceError as error:
            logger.warning("token lookup for card %s failed: %s", card.public_id, error)
            results[card.pk] = None
            outcome = "failure" if error.permanent else "transient_failure"
        # Only a service that is down or too slow counts against it, not a card it refused.
        _note_outcome(adapter.name, failed=outcome in ("timeout", "transient_failure"))
        TOKEN_SERVICE_LATENCY.labels(adapter.name, outcome).observe(time.monotonic() - started)
    return results


def wallet_states_for_cards(
    cards: Sequence[Card], *, use_cache: bool = True, write_after: AfterAnswer | None = None
) -> dict[int, CardWalletState]:
    """The wallet state of each card (by pk), from the cache or one concurrent round of lookups.

    What the lookups found is kept (the cache, our copy of the tokens, the card lists' version)
    before returning, or, given ``write_after``, handed to it to be kept once the caller's
    answer has gone: the states returned do not depend on it.

    Never raises for token-service trouble: those cards come back ``unknown``.
    """
    if not cards:
        return {}
    keys = {card.pk: status_cache_key(card) for card in cards}
    # One cache round trip for the registry and every card's tokens.
    if use_cache:
        cached = cache.get_many([TRID_REGISTRY_CACHE_KEY, *keys.values()])
        registry = cached.pop(TRID_REGISTRY_CACHE_KEY, None) or _cache_trid_registry()
    else:
        cached, registry = {}, trid_registry()
    tokens: dict[int, list[NetworkToken] | None] = {}
    missing = []
    if use_cache:
        TOKEN_STATUS_CACHE.labels("hit").inc(len(cached))
        TOKEN_STATUS_CACHE.labels("miss").inc(len(cards) - len(cached))
    for card in cards:
        if keys[card.pk] in cached:
            tokens[card.pk] = [NetworkToken.from_cache(item) for item in cached[keys[card.pk]]]
        else:
            missing.append(card)
    if missing:
        ours: dict[str, CardToken] | None = None
        if write_after is None:
            # Our copy of the cards' tokens is read while the token service is asked; kept
            # after the answer, it is read then, leaving this thread idle while the lookups
            # start (their threads would otherwise wait for it to let go of the interpreter).
            ours = {}
        fetched = lookup_tokens(
            missing, meanwhile=None if ours is None else lambda: ours.update(_our_tokens(missing))
        )
        relevant = {
            pk: [t for t in found if t.trid in registry.known]
            for pk, found in fetched.items()
            if found is not None
        }
        tokens.update(fetched)
        tokens.update(relevant)
        found_for = [card for card in missing if card.pk in relevant]
        now_or_after_answer(
            functools.partial(_keep_found_tokens, found_for, relevant, ours), write_after
        )
    day = today()
    return {
        card.pk: card_wallet_state(card, tokens[card.pk], registry.active, day) for card in cards
    }


def _keep_found_tokens(
    cards: list[Card], found: dict[int, list[NetworkToken]], ours: dict[str, CardToken] | None
) -> None:
    """Keep the tokens the service reported for ``cards``: in the cache, in our copy (``ours``
    if read already, else read now), and as a change of their cardholders' card lists."""
    cache.set_many(
        {status_cache_key(card): [t.as_cache() for t in found[card.pk]] for card in cards},
        timeout=settings.TOKEN_STATUS_CACHE_SECONDS,
    )
    _sync_card_tokens(found, _our_tokens(cards) if ours is None else ours)
    note_card_list_changed(card.cardholder for card in cards)


def wallet_state_for_card(card: Card, *, use_cache: bool = True) -> CardWalletState:
    return wallet_states_for_cards([card], use_cache=use_cache)[card.pk]


def forget_wallet_state(card: Card) -> None:
    """Drop the cached status, e.g. when the cardholder returns from the wallet app."""
    cache.delete(status_cache_key(card))
    note_card_list_changed([card.cardholder])


def show_our_tokens(card: Card, *, from_card: Card | None = None) -> None:
    """Put our copy of the card's tokens in the wallet-state cache, so every page and the API
    show a confirmed change (ours, or one the service notified) at once, with no lookup.

    ``from_card``: show that card's tokens on ``card`` (a reissued card whose tokens are being
    moved to it: it is in the app, not to be offered "Add"; the cache's expiry brings the truth
    back if the move fails)."""
    mirror = [
        NetworkToken.from_row(row, row.upstream_updated_at)
        for row in CardToken.objects.filter(card=from_card or card)
    ]
    cache.set(
        status_cache_key(card),
        [token.as_cache() for token in mirror],
        timeout=settings.TOKEN_STATUS_CACHE_SECONDS,
    )
    note_card_list_changed([card.cardholder])


def _our_tokens(cards: Sequence[Card]) -> dict[str, CardToken]:
    """Our copy of the cards' tokens, by token reference (one query)."""
    rows = CardToken.objects.filter(card_id__in=[card.pk for card in cards])
    return {row.token_reference: row for row in rows}


def _sync_card_tokens(found: dict[int, list[NetworkToken]], ours: dict[str, CardToken]) -> None:
    """Bring our copy of the cards' tokens (``ours``, read before) in line with what the
    service reported for the cards in ``found``; bulk writes only for what changed."""
    if not found:
        return
    existing = {ref: row for ref, row in ours.items() if row.card_id in found}
    create, update, seen = [], [], set()
    now = timezone.now()
    for card_pk, card_tokens in found.items():
        for token in card_tokens:
            seen.add(token.token_reference)
            values = {
                "trid": token.trid,
                "status": token.status.value,
                "token_type": token.token_type.value,
                "device_id": token.device_id,
                "device_name": token.device_name,
                "upstream_updated_at": token.updated_at,
            }
            row = existing.get(token.token_reference)
            if row is None:
                create.append(
                    CardToken(
                        card_id=card_pk,
                        token_reference=token.token_reference,
                        status_since=token.updated_at or now,
                        **values,
                    )
                )
            elif row.card_id == card_pk and any(getattr(row, k) != v for k, v in values.items()):
                if row.status != values["status"]:
                    # Changed elsewhere (the wallet app, the network): not by us, for no
                    # reason we know.
                    row.status_since = token.updated_at or now
                    row.changed_by = row.change_reason = ""
                for name, value in values.items():
                    setattr(row, name, value)
                update.append(row)
    gone = [ref for ref in existing if ref not in seen]
    if gone:
        CardToken.objects.filter(token_reference__in=gone).delete()
    if create:
        CardToken.objects.bulk_create(create, ignore_conflicts=True)
    if update:
        CardToken.objects.bulk_update(update, SYNCED_FIELDS)


SYNCED_FIELDS = [
    "trid",
    "status",
    "token_type",
    "device_id",
    "device_name",
    "upstream_updated_at",
    "status_since",
    "changed_by",
    "change_reason",
]


def iter_refreshed_wallet_states(
    *,
    cards: Iterable[Card],
    batch_size: int | None = None,
    per_second: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[CardWalletState]:
    """Refresh statuses from the token service in batches, yielding each card's new state.

    Memory stays flat in the number of cards: give an iterator (``queryset.iterator()``) and
    consume the states as they come. At most ``per_second`` lookups in any second, sliding, as
    the token service counts them: with n batches a second (batches of at most ``batch_size``),
    each holds per_second // n cards, they start 1/n s apart (below one a second: one card
    every 1/per_second s), and a batch starts no sooner than 1 s after the lookups of the
    batch n before it have ended (a batch's lookups take time; so one second never meets n + 1
    batches).
    """
    per_second = per_second or settings.TOKEN_REFRESH_PER_SECOND
    largest = batch_size or settings.TOKEN_REFRESH_BATCH_SIZE
    batches_a_second = max(1, math.ceil(per_second / largest))
    batch_size = max(1, int(per_second // batches_a_second))
    interval = max(1 / batches_a_second, batch_size / per_second)
    # When each of the last n batches started and ended.
    recent: deque[tuple[float, float]] = deque(maxlen=batches_a_second)
    batch: list[Card] = []

    def refresh(batch: list[Card]) -> Iterator[CardWalletState]:
        if recent:
            start_at = recent[-1][0] + interval
            if len(recent) == batches_a_second:
                start_at = max(start_at, recent[0][1] + 1.0)
            pause = start_at - clock()
            if pause > 0:
                sleep(pause)
        started = clock()
        refreshed = wallet_states_for_cards(batch, use_cache=False)
        recent.append((started, clock()))
        return (refreshed[card.pk] for card in batch)

    for card in cards:
        batch.append(card)
        if len(batch) >= batch_size:
            yield from refresh(batch)
            batch = []
    if batch:
        yield from refresh(batch)


def refresh_wallet_states(
    *, cards: Iterable[Card], batch_size: int | None = None, per_second: float | None = None
) -> list[CardWalletState]:
    """iter_refreshed_wallet_states as a list, for a few cards (an admin selection)."""
    return list(
        iter_refreshed_wallet_states(cards=cards, batch_size=batch_size, per_second=per_second)
    )


# --- token notifications -------------------------------------------------------------------


class NotificationOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_TOKEN = "unknown_token"  # noqa: S105 - an outcome name, not a secret


EVENT_TYPES = {"TOKEN_CREATED", "TOKEN_STATUS_UPDATED", "TOKEN_DELETED"}
_SIGNATURE = re.compile(r"^t=(?P<t>\d{1,12}),v1=(?P<v1>[0-9a-f]{64})$")
_NOTIFICATION_STATUS = {
    "ACTIVE": TokenStatus.ACTIVE,
    "SUSPENDED": TokenStatus.SUSPENDED,
    "INACTIVE": TokenStatus.INACTIVE,
    "DEACTIVATED": TokenStatus.DELETED,
    "DELETED": TokenStatus.DELETED,
}


def notification_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Notification-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _verify_signature(body: bytes, header: str | None) -> None:
    secret = settings.TOKEN_NOTIFICATION_SECRET
    if not secret:
        raise DomainError(ErrorCode.NOT_CONFIGURED, "token notifications are not configured")
    match = _SIGNATURE.match(header or "")
    if not match:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "missing or malformed signature")
    timestamp = int(match["t"])
    if abs(time.time() - timestamp) > settings.TOKEN_NOTIFICATION_TOLERANCE_SECONDS:
        raise DomainError(
            ErrorCode.UNAUTHENTICATED, "signature timestamp outside the allowed window"
        )
    expected = notification_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), (header or "").encode()):
        raise DomainError(ErrorCode.UNAUTHENTICATED, "bad signature")


def _parse_event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DomainError(ErrorCode.INVALID, "body is not JSON") from None
    if not isinstance(event, dict):
        raise DomainError(ErrorCode.INVALID, "body is not a JSON object")
    problems = []
    for name, limit in (("eventID", 100), ("tokenReferenceID", 64)):
        value = event.get(name)
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            problems.append(f"{name} must be a string of 1-{limit} characters")
    if event.get("eventType") not in EVENT_TYPES:
        problems.append("eventType must be one of " + ", ".join(sorted(EVENT_TYPES)))
    if not isinstance(event.get("tokenRequestorID"), str) or not re.fullmatch(
        r"\d{11}", event["tokenRequestorID"]
    ):
        problems.append("tokenRequestorID must be 11 digits")
    if event.get("eventType") != "TOKEN_DELETED" and event.get("tokenStatus") not in (
        _NOTIFICATION_STATUS
    ):
        problems.append("tokenStatus must be one of " + ", ".join(sorted(_NOTIFICATION_STATUS)))
    if problems:
        raise DomainError(ErrorCode.INVALID, "; ".join(problems))
    return event


def receive_token_notification(*, body: bytes, signature: str | None) -> NotificationOutcome:
    """Apply a signed token lifecycle event; every signed delivery is audited (see _receive).

    Unsigned or badly signed requests (401) and requests while the endpoint is off (503) leave
    only a log line: anyone on the internet can send them, so they must cost us nothing.
    """
    try:
        outcome = _receive(body=body, signature=signature)
    except DomainError as rejected:
        if rejected.code in (ErrorCode.UNAUTHENTICATED, ErrorCode.NOT_CONFIGURED):
            logger.warning("token notification refused (%s): %s", rejected.code, rejected.message)
            raise
        record_audit(
            "tokens.notification_received",
            outcome="rejected",
            object_type="token_notification",
            details={"code": rejected.code.value, "reason": rejected.message},
        )
        raise
    record_audit(
        "tokens.notification_received",
        outcome=outcome.value,
        object_type="token_notification",
        object_id=_event_id_of(body),
    )
    return outcome


def _event_id_of(body: bytes) -> str:
    try:
        return str(json.loads(body).get("eventID", ""))[:64]
    except (ValueError, AttributeError):
        return ""


def _receive(*, body: bytes, signature: str | None) -> NotificationOutcome:
    """Apply a signed token lifecycle event (VTS-style webhook) to our copy and the cache.

    Raises DomainError (unauthenticated: unsigned or badly signed; invalid: malformed;
    not_configured) without changing anything. A replayed event id is a no-op; an event for a token
    we have never seen changes nothing (it names no card we could match).
    """
    _verify_signature(body, signature)
    event = _parse_event(body)
    if TokenNotification.objects.filter(event_id=event["eventID"]).exists():
        return NotificationOutcome.DUPLICATE
    with transaction.atomic():
        row = (
            CardToken.objects.select_for_update()
            .select_related("card")
            .filter(token_reference=event["tokenReferenceID"])
            .first()
        )
        if row is None or row.trid != event["tokenRequestorID"]:
            logger.info("token notification %s for an unknown token ignored", event["eventID"])
            return NotificationOutcome.UNKNOWN_TOKEN
        status = (
            TokenStatus.DELETED
            if event["eventType"] == "TOKEN_DELETED"
            else _NOTIFICATION_STATUS[event["tokenStatus"]]
        )
        try:
            with transaction.atomic():
                TokenNotification.objects.create(
                    event_id=event["eventID"],
                    event_type=event["eventType"],
                    token_reference=row.token_reference,
                    trid=row.trid,
                    card=row.card,
                    status=status,
                    outcome=NotificationOutcome.APPLIED,
                )
        except IntegrityError:
            return NotificationOutcome.DUPLICATE  # the same event, delivered twice at once
        if row.status != status:
            row.status, row.status_since = status, timezone.now()
            row.changed_by = row.change_reason = ""
        device = event.get("deviceInfo")
        if isinstance(device, dict) and isinstance(device.get("deviceName"), str):
            row.device_name = device["deviceName"][:100]
        row.save(
            update_fields=[
                "status",
                "status_since",
                "changed_by",
                "change_reason",
                "device_name",
                "updated_at",
            ]
        )
        card = row.card
    show_our_tokens(card)
    logger.info("token notification %s applied to card %s", event["eventID"], card.public_id)
    return NotificationOutcome.APPLIED

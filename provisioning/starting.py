"""Starting an attempt: the card's rules, reuse of the one in flight, the rate limit; and the
offers the card list records for the funnel."""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card, Cardholder
from issuer_portal.core.after_answer import AfterAnswer, now_or_after_answer
from issuer_portal.core.audit import audit_entry
from issuer_portal.core.db import Write, insert_of, write_together
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from provisioning.lifecycle import (
    _refusal_message,
    cancel_in_flight_attempts,
    expire_attempt,
    refusal_code,
)
from provisioning.models import (
    IN_FLIGHT_STATES,
    Channel,
    ProvisioningAttempt,
    ProvisioningOffer,
    StartsInWindow,
)
from provisioning.upstream_call import claim_lease_seconds
from tokens.services import wallet_state_for_card, wallet_states_for_cards
from tokens.status import CardWalletState, NextAction, WalletStatus

logger = logging.getLogger(__name__)


def _count_the_start(cardholder: Cardholder) -> Write:
    """The write that counts one more new attempt of ``cardholder`` in the current window of
    PROVISIONING_RATE_WINDOW_SECONDS, and writes no row when the window holds
    PROVISIONING_RATE_LIMIT already (the attempt written only if it did).

    It is part of the attempt's statement, so it is undone with a refused insert (a double
    click is never counted), and presses of one cardholder at once queue on its row: each sees
    the count the earlier ones left, and the card's attempt if one of them wrote it.
    """
    window_number = int(timezone.now().timestamp()) // settings.PROVISIONING_RATE_WINDOW_SECONDS
    return Write(
        sql=_count_sql(connection.vendor),
        params=(cardholder.pk, window_number, settings.PROVISIONING_RATE_LIMIT),
        model=StartsInWindow,
    )


@functools.cache
def _count_sql(vendor: str) -> str:
    """_count_the_start's statement, the same for every press (made once per database kind)."""
    q = connection.ops.quote_name
    table, holder, window, started = (
        q(name) for name in (StartsInWindow._meta.db_table, "cardholder_id", "window", "started")
    )
    # Table and column names from the model, quoted; every value is a parameter.
    return (
        f"INSERT INTO {table} ({holder}, {window}, {started}) VALUES (%s, %s, 1)"  # noqa: S608
        f" ON CONFLICT ({holder}) DO UPDATE SET {started} = CASE"
        f" WHEN {table}.{window} = excluded.{window} THEN {table}.{started} + 1 ELSE 1 END,"
        f" {window} = excluded.{window}"
        f" WHERE {table}.{window} <> excluded.{window} OR {table}.{started} < %s"
    )


def _rate_limited() -> DomainError:
    window = settings.PROVISIONING_RATE_WINDOW_SECONDS
    now = int(timezone.now().timestamp())
    return DomainError(
        ErrorCode.RATE_LIMITED,
        str(_("You have started many additions in a short time. Please wait a few minutes.")),
        retry_after=window - now % window,
    )


def _in_flight(card: Card, cardholder: Cardholder) -> ProvisioningAttempt | None:
    """The card's attempt in flight, holding the ``card`` and ``cardholder`` objects given (no
    join, no second decryption of the card data)."""
    attempt = ProvisioningAttempt.objects.filter(card=card, state__in=IN_FLIGHT_STATES).first()
    if attempt is not None:
        attempt.card = card
        if attempt.cardholder_id == cardholder.pk:
            attempt.cardholder = cardholder
    return attempt


def _fresh(attempt: ProvisioningAttempt | None) -> bool:
    return attempt is not None and attempt.age_seconds <= settings.PROVISIONING_MAX_AGE_SECONDS


def start_provisioning(
    *, cardholder: Cardholder, card: Card, channel: str, app_return_url: str = ""
) -> ProvisioningAttempt:
    """Create the card's attempt, or reuse the one in flight (double clicks, reloads, races).

    Eligibility and the age rule are checked again here, whatever the page showed. Raises
    DomainError (not_eligible, rate_limited; upstream_unavailable when the token service cannot
    say whether the card is in the app); nothing is sent to Vipps by this function. A new
    attempt comes claimed for its first try (``claimed_by_caller``), which
    ``provision_now_or_later`` makes at once.
    """
    code = refusal_code(card, cardholder.pk)
    if code:
        # An attempt still in flight from before the card was blocked ends here, unused.
        cancel_in_flight_attempts(card)
        raise DomainError(ErrorCode.NOT_ELIGIBLE, _refusal_message(card, code))
    # Usually from the cache the card list filled; it may ask the token service, so it comes
    # before anything is written.
    state = wallet_state_for_card(card)
    if state.status == WalletStatus.UNKNOWN or state.next_action != NextAction.PUSH_PROVISION:
        # Not offered now; an attempt already in flight (pressed while it was) still counts.
        existing = _in_flight(card, cardholder)
        if _fresh(existing):
            return existing
    if state.status == WalletStatus.UNKNOWN:
        # The token service is slow or down: not a "no" about the card, a "not now".
        raise DomainError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            _not_offered_message(state),
            # Pressing again makes sense once the service's circuit breaker lets a try through.
            retry_after=max(1, round(settings.TOKEN_SERVICE_BREAKER_SECONDS)),
        )
    if state.next_action != NextAction.PUSH_PROVISION:
        raise DomainError(ErrorCode.NOT_ELIGIBLE, state.reason_text or _not_offered_message(state))
    # The insert itself settles double clicks and races: the database keeps one attempt in
    # flight per card (a partial unique index), so no lock and no look-up come first.
    attempt = _create_attempt(cardholder, card, channel, app_return_url)
    if attempt is None:
        existing = _in_flight(card, cardholder)
        if _fresh(existing):
            return existing
        if existing is not None:
            expire_attempt(existing)  # too old to reuse: it makes way for a new one
        attempt = _create_attempt(cardholder, card, channel, app_return_url)
        if attempt is None:
            # Another press took the freed place first: reuse its attempt.
            existing = _in_flight(card, cardholder)
            if existing is None:
                raise IntegrityError("no attempt could be written, and none is in flight")
            return existing
    logger.info(
        "provisioning attempt %s started for card %s (correlation %s)",
        attempt.public_id,
        card.public_id,
        attempt.correlation_id,
    )
    return attempt


def _create_attempt(
    cardholder: Cardholder, card: Card, channel: str, app_return_url: str
) -> ProvisioningAttempt | None:
    """Count the start and write the attempt with its audit entry, all or none
    (core.db.write_together); None when the card already has one in flight (the caller reuses
    it). DomainError(rate_limited), nothing written, when the cardholder's window is full."""
    if settings.PROVISIONING_RATE_LIMIT <= 0:
        # No new attempts at all: not left to the count, whose first row counts one.
        return _in_flight_at_the_limit(card)
    # Created claimed for the caller's first try (one write fewer while the cardholder waits);
    # a caller that dies before trying leaves a claim the sweeper hands on.
    attempt = ProvisioningAttempt(
        card=card,
        cardholder=cardholder,
        channel=channel if channel in Channel.values else Channel.WEB,
        app_return_url=app_return_url,
        tries=1,
        claimed_until=timezone.now() + datetime.timedelta(seconds=claim_lease_seconds()),
    )
    entry = audit_entry(
        "provisioning.initiated",
        obj=attempt,
        correlation=str(attempt.correlation_id),
        details={"card": str(card.public_id), "channel": attempt.channel},
    )
    try:
        # No attempt without its count and audit entry; the database keeps one attempt in
        # flight per card, and a refused insert takes its count back with it.
        written = write_together(
            counted=_count_the_start(cardholder),
            attempt=insert_of(attempt, only_if="counted"),
            audit=insert_of(entry, only_if="attempt"),
        )
    except IntegrityError:
        return None
    if not written["attempt"]:
        # The count's row made this press wait for any press of this cardholder before it, so
        # an attempt one of those wrote for the card is there to be found.
        return _in_flight_at_the_limit(card)
    attempt.claimed_by_caller = True
    return attempt


def _in_flight_at_the_limit(card: Card) -> None:
    """At the limit, pressing again for a card already in flight is not a new attempt: None
    (the caller reuses it); else DomainError(rate_limited)."""
    if ProvisioningAttempt.objects.filter(card=card, state__in=IN_FLIGHT_STATES).exists():
        return None
    raise _rate_limited()


def _not_offered_message(state: CardWalletState) -> str:
    if state.status in (WalletStatus.ADDED, WalletStatus.ADDED_WITH_NFC):
        return str(_("This card is already in the app."))
    if state.status == WalletStatus.SUSPENDED:
        return str(_("This card is paused in the app. Contact the bank to resume it."))
    return str(_("We could not check the app right now. Please try again in a minute."))


def cards_on_offer(
    *, cards: Sequence[Card], channel: str, write_after: AfterAnswer | None = None
) -> list[CardWalletState]:
    """The cardholder's cards (``selectors.cardholder_with_cards``) with their wallet states,
    for the card list of any channel; the cards offered "Add" are recorded for the funnel (at
    most once a day each). ``write_after``: the writes (what the lookups found, the offers) are
    handed to it, to be made once the caller's answer has gone; else they are made before
    returning."""
    states = wallet_states_for_cards(cards, write_after=write_after)
    ordered = [states[card.pk] for card in cards]
    now_or_after_answer(functools.partial(record_offers, ordered, channel=channel), write_after)
    return ordered


# An offer is written once per card, channel and day; the cache remembers which are written, so
# a warm card list writes nothing. Losing the cache costs one ignored duplicate insert, no more.
OFFER_MEMORY_SECONDS = 2 * 24 * 3600


def _offer_key(day: datetime.date, channel: str, card_public_id: object) -> str:
    return f"provisioning:offer:{day.isoformat()}:{channel}:{card_public_id}"


def record_offers(states: list[CardWalletState], *, channel: str) -> None:
    """Note the cards shown with "Add" today: one cache read, and an insert only for the cards
    not yet noted today (duplicates ignored by the database)."""
    day = timezone.localdate()
    offered = {
        _offer_key(day, channel, state.card.public_id): state
        for state in states
        if state.next_action == NextAction.PUSH_PROVISION
    }
    if not offered:
        return
    noted = cache.get_many(list(offered))
    new = {key: state for key, state in offered.items() if key not in noted}
    if not new:
        return
    ProvisioningOffer.objects.bulk_create(
        [
            ProvisioningOffer(
                day=day,
                card_id=state.card.pk,
                channel=channel,
                brand=state.card.cardholder.wallet_brand.value,
                network=state.card.network,
            )
            for state in new.values()
        ],
        ignore_conflicts=True,
    )
    cache.set_many(dict.fromkeys(new, 1), timeout=OFFER_MEMORY_SECONDS)

"""Wallet status, eligibility and next action of a card: pure rules, no I/O.

Status (from the card's tokens and the active TRIDs of its network):
- ``added``: an active token under an active ecom TRID;
- ``added_with_nfc``: that, and an active token under an active NFC TRID;
- ``suspended``: ecom tokens exist but all are suspended: the cardholder contacts the bank;
- ``not_added``: no active ecom token;
- ``unknown``: the token service could not answer.
Deprecated TRIDs count for nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import UNUSABLE_STATES, Card
from tokens.adapters.base import NetworkToken
from tokens.models import TokenStatus

# Vipps MobilePay does not support card provisioning for users under 15.
MINIMUM_AGE = 15


class WalletStatus(StrEnum):
    NOT_ADDED = "not_added"
    ADDED = "added"
    ADDED_WITH_NFC = "added_with_nfc"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"


WALLET_STATUS_LABELS = {
    WalletStatus.NOT_ADDED: _("Not added"),
    WalletStatus.ADDED: _("In the wallet"),
    WalletStatus.ADDED_WITH_NFC: _("In the wallet, contactless on"),
    WalletStatus.SUSPENDED: _("Paused"),
    WalletStatus.UNKNOWN: _("Status unavailable"),
}


class NextAction(StrEnum):
    PUSH_PROVISION = "push_provision"
    NFC_ENROLL = "nfc_enroll"


class Ineligibility(StrEnum):
    BLOCKED = "card_blocked"
    EXPIRED = "card_expired"
    NETWORK = "network_not_supported"
    TOO_YOUNG = "too_young"


INELIGIBILITY_TEXT = {
    Ineligibility.BLOCKED: _("This card is blocked."),
    Ineligibility.EXPIRED: _("This card has expired."),
    Ineligibility.NETWORK: _("Only Visa and Mastercard cards can be added."),
    Ineligibility.TOO_YOUNG: _("Cards can be added from the age of 15."),
}


@dataclass(frozen=True)
class TridSet:
    """The active TRIDs of each network, by kind."""

    ecom: dict[str, frozenset[str]] = field(default_factory=dict)
    nfc: dict[str, frozenset[str]] = field(default_factory=dict)

    def ecom_for(self, network: str) -> frozenset[str]:
        return self.ecom.get(network, frozenset())

    def nfc_for(self, network: str) -> frozenset[str]:
        return self.nfc.get(network, frozenset())


@dataclass(frozen=True)
class CardWalletState:
    """Everything the portal and the API show about one card's place in the wallet."""

    card: Card
    status: WalletStatus
    eligible: bool
    reason: Ineligibility | None
    next_action: NextAction | None
    # True when the NFC action is offered only as "set up on a new phone" (an NFC token exists).
    action_is_secondary: bool = False
    # The active ecom token's unique reference: the NFC enrollment link needs it.
    ecom_token_reference: str | None = None
    tokens: tuple[NetworkToken, ...] = ()

    @property
    def contactless_is_next(self) -> bool:
        """The card is in the wallet without contactless: turning it on is the next step (and
        not merely "set up on a new phone")."""
        return self.next_action == NextAction.NFC_ENROLL and not self.action_is_secondary

    @property
    def status_label(self) -> str:
        return str(WALLET_STATUS_LABELS[self.status])

    @property
    def reason_text(self) -> str | None:
        return str(INELIGIBILITY_TEXT[self.reason]) if self.reason else None


def wallet_status(tokens: Iterable[NetworkToken], network: str, trids: TridSet) -> WalletStatus:
    tokens = list(tokens)
    ecom = [t for t in tokens if t.trid in trids.ecom_for(network)]
    nfc = [t for t in tokens if t.trid in trids.nfc_for(network)]
    if any(t.status == TokenStatus.ACTIVE for t in ecom):
        if any(t.status == TokenStatus.ACTIVE for t in nfc):
            return WalletStatus.ADDED_WITH_NFC
        return WalletStatus.ADDED
    if any(t.status == TokenStatus.SUSPENDED for t in ecom):
        return WalletStatus.SUSPENDED
    return WalletStatus.NOT_ADDED


def ineligibility(card: Card, today: datetime.date) -> Ineligibility | None:
    """Why the card may not be offered anything, or None when it may."""
    if card.state in UNUSABLE_STATES:
        return Ineligibility.BLOCKED
    if card.is_expired(today):
        return Ineligibility.EXPIRED
    if not card.network_supported:
        return Ineligibility.NETWORK
    if card.cardholder.age_on(today) < MINIMUM_AGE:
        return Ineligibility.TOO_YOUNG
    return None


def card_wallet_state(
    card: Card, tokens: list[NetworkToken] | None, trids: TridSet, today: datetime.date
) -> CardWalletState:
    """Derive the state; ``tokens`` None means the token service could not answer."""
    reason = ineligibility(card, today)
    if tokens is None:
        status = WalletStatus.UNKNOWN
        tokens = []
    else:
        status = wallet_status(tokens, card.network, trids)
    ecom_reference = next(
        (
            t.token_reference
            for t in tokens
            if t.trid in trids.ecom_for(card.network) and t.status == TokenStatus.ACTIVE
        ),
        None,
    )
    action: NextAction | None = None
    secondary = False
    if reason is None:
        if status == WalletStatus.NOT_ADDED:
            action = NextAction.PUSH_PROVISION
        elif status in (WalletStatus.ADDED, WalletStatus.ADDED_WITH_NFC):
            # An NFC token may sit on an old phone: keep the action, make it secondary.
            action = NextAction.NFC_ENROLL
            secondary = status == WalletStatus.ADDED_WITH_NFC
    return CardWalletState(
        card=card,
        status=status,
        eligible=reason is None,
        reason=reason,
        next_action=action,
        action_is_secondary=secondary,
        ecom_token_reference=ecom_reference,
        tokens=tuple(tokens),
    )


def masked_reference(reference: str) -> str:
    """Token unique references are not secret like a PAN, but staff only need the tail."""
    return f"…{reference[-6:]}"

"""What every token-service adapter returns and raises."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from issuer_portal.cards.models import Card
from tokens.models import Actor, ChangeReason, TokenAction, TokenStatus, TokenType


@dataclass(frozen=True)
class NetworkToken:
    """One network token of a card, as the token service reports it. Holds no card data."""

    token_reference: str
    trid: str
    status: TokenStatus
    token_type: TokenType
    device_name: str = ""
    updated_at: datetime.datetime | None = None
    # The service's stable, opaque id of the device holding a device token ("" if none given).
    device_id: str = ""

    def as_cache(self) -> dict[str, str | None]:
        return {
            "ref": self.token_reference,
            "trid": self.trid,
            "status": self.status.value,
            "type": self.token_type.value,
            "device": self.device_name,
            "device_id": self.device_id,
            "updated": self.updated_at.isoformat() if self.updated_at else None,
        }

    @classmethod
    def from_row(cls, row: Any, updated_at: datetime.datetime | None = None) -> NetworkToken:
        """From a stored token row (our copy or the simulator's store)."""
        return cls(
            token_reference=row.token_reference,
            trid=row.trid,
            status=TokenStatus(row.status),
            token_type=TokenType(row.token_type),
            device_name=row.device_name,
            device_id=row.device_id,
            updated_at=updated_at,
        )

    @classmethod
    def from_cache(cls, data: dict[str, str | None]) -> NetworkToken:
        updated = data.get("updated")
        return cls(
            token_reference=str(data["ref"]),
            trid=str(data["trid"]),
            status=TokenStatus(data["status"]),
            token_type=TokenType(data["type"]),
            device_name=str(data.get("device") or ""),
            device_id=str(data.get("device_id") or ""),
            updated_at=datetime.datetime.fromisoformat(updated) if updated else None,
        )


class TokenServiceError(Exception):
    """The token service could not answer for a card.

    ``permanent`` False: timeouts, connection failures, 5xx; a later retry may succeed.
    ``permanent`` True: bad credentials or configuration, unknown card, malformed answers.
    The message is safe to log and never contains the PAN.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# The status a token has once each change is made ("already in that state" is success).
STATUS_AFTER = {
    TokenAction.SUSPEND: TokenStatus.SUSPENDED,
    TokenAction.RESUME: TokenStatus.ACTIVE,
    TokenAction.DELETE: TokenStatus.DELETED,
}


@dataclass(frozen=True)
class ChangeOrder:
    """One change to ask of the token service: what, why and who asked (sent along for the
    service's own audit trail); ``new_card`` is the card a funding-account update moves to."""

    action: TokenAction
    reason: ChangeReason
    actor: Actor
    new_card: Card | None = None


class TokenServiceAdapter:
    """Looks up and changes a card's network tokens at a token service (VTS, MDES or the
    simulator).

    ``tokens_for_card`` runs in worker threads, concurrently for the cards of one page, so it
    must not use the database; ``prepare`` runs first in the caller's thread for any reads.
    The changes (``suspend``, ``resume``, ``delete``, ``update_funding_account``) run in the
    caller's thread.
    """

    #: Short name shown to staff.
    name = "base"
    #: How many token references the service takes in one change call.
    max_references_per_call = 10

    def prepare(self, cards: Sequence[Card]) -> Any:
        """Called once per batch in the caller's thread; the result goes to ``tokens_for_card``.

        Adapters that read the database do it here: worker threads cannot see the caller's
        transaction. Returns anything (None by default).
        """
        return None

    def tokens_for_card(self, card: Card, prepared: Any = None) -> list[NetworkToken]:
        """Return every token the service knows for ``card`` (all TRIDs, all statuses).

        Raises TokenServiceError (transient or permanent). Never logs the PAN.
        """
        raise NotImplementedError

    # --- lifecycle ---------------------------------------------------------------------------

    def suspend(
        self, references: Sequence[str], *, reason: ChangeReason, actor: Actor
    ) -> dict[str, TokenStatus]:
        """Suspend the tokens; returns reference -> status now. A token already suspended is
        a success. Raises TokenServiceError (transient or permanent); no card data in it."""
        return self.change_tokens(ChangeOrder(TokenAction.SUSPEND, reason, actor), references)

    def resume(
        self, references: Sequence[str], *, reason: ChangeReason, actor: Actor
    ) -> dict[str, TokenStatus]:
        """Resume suspended tokens; returns reference -> status now (already active: success).
        Raises TokenServiceError."""
        return self.change_tokens(ChangeOrder(TokenAction.RESUME, reason, actor), references)

    def delete(
        self, references: Sequence[str], *, reason: ChangeReason, actor: Actor
    ) -> dict[str, TokenStatus]:
        """Delete the tokens for good; returns reference -> status now (already deleted:
        success). Raises TokenServiceError."""
        return self.change_tokens(ChangeOrder(TokenAction.DELETE, reason, actor), references)

    def update_funding_account(
        self, references: Sequence[str], *, new_card: Card, reason: ChangeReason, actor: Actor
    ) -> dict[str, TokenStatus]:
        """Move the tokens to ``new_card`` (a reissued card: new number and expiry), keeping
        their status; returns reference -> status now. Tokens already on the new card are a
        success. Raises TokenServiceError; the new card number is never in its message."""
        order = ChangeOrder(TokenAction.UPDATE_FUNDING_ACCOUNT, reason, actor, new_card=new_card)
        return self.change_tokens(order, references)

    def change_tokens(
        self, order: ChangeOrder, references: Sequence[str]
    ) -> dict[str, TokenStatus]:
        """Split ``references`` to the service's limit and send each batch; returns reference
        -> status now for every reference. Raises TokenServiceError at the first failed batch
        (the batches before it are done; sending them again is harmless)."""
        statuses: dict[str, TokenStatus] = {}
        size = max(1, self.max_references_per_call)
        for start in range(0, len(references), size):
            statuses.update(self._send_change(order, list(references[start : start + size])))
        missing = [ref for ref in references if ref not in statuses]
        if missing:
            raise TokenServiceError(
                f"{self.name}: no answer for {len(missing)} token(s) of the change",
                permanent=True,
            )
        return statuses

    def _send_change(self, order: ChangeOrder, references: list[str]) -> dict[str, TokenStatus]:
        """Send one batch (at most ``max_references_per_call``); returns reference -> status.
        Raises TokenServiceError."""
        raise NotImplementedError(f"{self.name} cannot change tokens")

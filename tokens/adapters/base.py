"""What every token-service adapter returns and raises."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from issuer_portal.cards.models import Card
from tokens.models import TokenStatus, TokenType


@dataclass(frozen=True)
class NetworkToken:
    """One network token of a card, as the token service reports it. Holds no card data."""

    token_reference: str
    trid: str
    status: TokenStatus
    token_type: TokenType
    device_name: str = ""
    updated_at: datetime.datetime | None = None

    def as_cache(self) -> dict[str, str | None]:
        return {
            "ref": self.token_reference,
            "trid": self.trid,
            "status": self.status.value,
            "type": self.token_type.value,
            "device": self.device_name,
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


class TokenServiceAdapter:
    """Looks up a card's network tokens at a token service (VTS, MDES or the simulator).

    ``tokens_for_card`` runs in worker threads, concurrently for the cards of one page, so it
    must not use the database; ``prepare`` runs first in the caller's thread for any reads.
    """

    #: Short name shown to staff.
    name = "base"

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

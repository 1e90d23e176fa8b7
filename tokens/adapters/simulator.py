"""A token service kept in our own database, for the demo, the Vipps sandbox and tests.

TOKEN_SIMULATOR_LATENCY_MS is the time every lookup takes (as a real round trip would), its
reading of our database included: a real service does that work inside its round trip, so the
read of a batch's tokens before the lookups go out is taken off each lookup's wait.
TOKEN_SIMULATOR_FAILURE ("transient" or "permanent") makes every lookup fail that way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings

from issuer_portal.cards.models import Card
from tokens.adapters.base import (
    STATUS_AFTER,
    ChangeOrder,
    NetworkToken,
    TokenServiceAdapter,
    TokenServiceError,
)
from tokens.models import SimulatedToken, TokenAction, TokenStatus


class _Batch(defaultdict[int, list[NetworkToken]]):
    """A batch's simulated tokens by card, and the seconds it took to read them."""

    def __init__(self) -> None:
        super().__init__(list)
        self.read_seconds = 0.0


class SimulatorAdapter(TokenServiceAdapter):
    name = "simulator"

    def prepare(self, cards: Sequence[Card]) -> _Batch:
        """Reads every card's simulated tokens in one query, and how long that took."""
        started = time.monotonic()
        found = _Batch()
        for row in SimulatedToken.objects.filter(card__in=[card.pk for card in cards]):
            found[row.card_id].append(NetworkToken.from_row(row, row.updated_at))
        found.read_seconds = time.monotonic() - started
        return found

    def tokens_for_card(self, card: Card, prepared: _Batch | None = None) -> list[NetworkToken]:
        """Returns the card's simulated tokens after the configured latency (less the batch's
        read, which is part of it).

        Raises TokenServiceError when failure injection is on.
        """
        if prepared is None:
            prepared = self.prepare([card])
        wait = settings.TOKEN_SIMULATOR_LATENCY_MS / 1000 - prepared.read_seconds
        if wait > 0:
            time.sleep(wait)
        _fail_if_asked()
        return list(prepared.get(card.pk, []))

    def _send_change(self, order: ChangeOrder, references: list[str]) -> dict[str, TokenStatus]:
        """Changes the simulated tokens as a token service would; a token already in the
        asked-for state is left as it is. Raises TokenServiceError for a reference it does not
        hold, a deleted token, or when failure injection is on."""
        _fail_if_asked()
        rows = {
            row.token_reference: row
            for row in SimulatedToken.objects.filter(token_reference__in=references)
        }
        unknown = [ref for ref in references if ref not in rows]
        if unknown:
            raise TokenServiceError(
                f"simulator: {len(unknown)} unknown token reference(s)", permanent=True
            )
        statuses = {}
        for reference in references:
            row = rows[reference]
            if order.action == TokenAction.UPDATE_FUNDING_ACCOUNT:
                if row.status == TokenStatus.DELETED:
                    raise TokenServiceError(
                        "simulator: a deleted token cannot move", permanent=True
                    )
                row.card = order.new_card
            elif row.status != STATUS_AFTER[order.action]:
                if row.status == TokenStatus.DELETED:
                    raise TokenServiceError("simulator: the token is deleted", permanent=True)
                row.status = STATUS_AFTER[order.action]
            row.last_reason = order.reason
            row.save(update_fields=["card", "status", "last_reason", "updated_at"])
            statuses[reference] = TokenStatus(row.status)
        return statuses


def _fail_if_asked() -> None:
    failure = settings.TOKEN_SIMULATOR_FAILURE
    if failure == "transient":
        raise TokenServiceError("simulated outage", permanent=False)
    if failure == "permanent":
        raise TokenServiceError("simulated permanent failure", permanent=True)

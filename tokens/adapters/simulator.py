"""A token service kept in our own database, for the demo, the Vipps sandbox and tests.

TOKEN_SIMULATOR_LATENCY_MS adds a delay to every lookup (as a real round trip would);
TOKEN_SIMULATOR_FAILURE ("transient" or "permanent") makes every lookup fail that way.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence

from django.conf import settings

from issuer_portal.cards.models import Card
from tokens.adapters.base import NetworkToken, TokenServiceAdapter, TokenServiceError
from tokens.models import SimulatedToken


class SimulatorAdapter(TokenServiceAdapter):
    name = "simulator"

    def prepare(self, cards: Sequence[Card]) -> dict[int, list[NetworkToken]]:
        """Reads every card's simulated tokens in one query."""
        found: dict[int, list[NetworkToken]] = defaultdict(list)
        for row in SimulatedToken.objects.filter(card__in=[card.pk for card in cards]):
            found[row.card_id].append(NetworkToken.from_row(row, row.updated_at))
        return found

    def tokens_for_card(
        self, card: Card, prepared: dict[int, list[NetworkToken]] | None = None
    ) -> list[NetworkToken]:
        """Returns the card's simulated tokens after the configured latency.

        Raises TokenServiceError when failure injection is on.
        """
        latency = settings.TOKEN_SIMULATOR_LATENCY_MS / 1000
        if latency:
            time.sleep(latency)
        failure = settings.TOKEN_SIMULATOR_FAILURE
        if failure == "transient":
            raise TokenServiceError("simulated outage", permanent=False)
        if failure == "permanent":
            raise TokenServiceError("simulated permanent failure", permanent=True)
        if prepared is None:
            prepared = self.prepare([card])
        return list(prepared.get(card.pk, []))

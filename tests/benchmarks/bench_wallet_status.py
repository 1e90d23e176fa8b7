"""Benchmarks of the card list and wallet status (``make bench``; not part of ``make test``).

The token simulator sleeps TOKEN_SIMULATOR_LATENCY_MS per lookup, like a real round trip.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.factories import CardFactory
from tokens.services import wallet_states_for_cards
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def ten_cards(alice):
    for _ in range(8):
        CardFactory(cardholder=alice)
    cards = list(alice.cards.select_related("cardholder"))
    for card in cards[::2]:
        add_simulated_token(
            card=card, trid="40010082040" if card.network == "visa" else "50169178771"
        )
    return cards


def test_card_list_10_cards_cold_cache_200ms_token_service(
    benchmark, client, alice, ten_cards, settings
):
    """Ten sequential lookups would take 2,000 ms; the page should take about one (200 ms)."""
    settings.TOKEN_SIMULATOR_LATENCY_MS = 200
    client.force_login(alice.user)

    def render():
        cache.clear()
        return client.get("/cards/")

    response = benchmark.pedantic(render, rounds=10, iterations=1, warmup_rounds=1)
    assert response.status_code == 200


def test_card_list_10_cards_warm_cache(benchmark, client, alice, ten_cards, settings):
    settings.TOKEN_SIMULATOR_LATENCY_MS = 200
    client.force_login(alice.user)
    client.get("/cards/")
    response = benchmark(client.get, "/cards/")
    assert response.status_code == 200


def test_card_list_50_cards_warm_cache(benchmark, client, alice, settings):
    for _ in range(48):
        CardFactory(cardholder=alice)
    client.force_login(alice.user)
    client.get("/cards/")
    response = benchmark(client.get, "/cards/")
    assert response.content.decode().count('class="card-item"') == 50


def test_wallet_states_10_cards_no_latency_cold(benchmark, ten_cards):
    def derive():
        cache.clear()
        return wallet_states_for_cards(ten_cards)

    assert len(benchmark(derive)) == 10

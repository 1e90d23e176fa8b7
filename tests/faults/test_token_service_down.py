"""The token service slow, then down, then back: the card list keeps its time budget and says
"status unavailable" per card, the circuit breaker stops the hammering, the API says the same."""

from __future__ import annotations

import json
import time

import pytest
from knox.models import AuthToken

from tests.factories import CardFactory, CardholderFactory
from tests.fakes import Answer, FakeServer
from tests.faults.stack import record_figures

pytestmark = pytest.mark.faults

LOOKUP_BUDGET_S = 1.5  # TOKEN_LOOKUP_TIMEOUT
BREAKER_FAILURES = 3
BREAKER_S = 3


def _api(stack, token: str, method: str, path: str) -> tuple[int, dict]:
    connection = stack.server.connect()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    connection.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_a_slow_then_dead_token_service_costs_the_page_its_budget_and_no_more(make_stack):
    service = {"mode": "slow"}

    def answer(recorded):
        if service["mode"] == "slow":
            return Answer(delay=5, body={"tokenDetails": []})
        if service["mode"] == "down":
            return Answer(status=503, body={"error": "maintenance"})
        return Answer(body={"tokenDetails": []})

    fake = FakeServer(answer).start()
    stack = make_stack(
        TOKEN_SERVICE_ADAPTER="vts",
        VTS_BASE_URL=fake.url,
        TOKEN_SERVICE_READ_TIMEOUT="1",
        TOKEN_LOOKUP_TIMEOUT=str(LOOKUP_BUDGET_S),
        TOKEN_SERVICE_BREAKER_FAILURES=str(BREAKER_FAILURES),
        TOKEN_SERVICE_BREAKER_SECONDS=str(BREAKER_S),
        WEB_CONCURRENCY="1",  # the breaker is per process: one process, one count
    )
    holder = CardholderFactory()
    cards = CardFactory.create_batch(3, cardholder=holder)
    stack.start_redis()
    stack.start_web()
    browser = stack.browser(holder, cards[0], open_list=False)
    try:
        # Slow: every lookup runs into its timeout; the page does not wait longer than its budget.
        status, page, slow_ms = stack.get(browser, "/cards/")
        assert status == 200 and slow_ms < (LOOKUP_BUDGET_S + 1) * 1000
        assert page.count("Status unavailable") == 3
        assert "/provision/" not in page  # no "Add" for a card that may already be in the app

        # Down: the breaker is open after BREAKER_FAILURES failures; nobody calls the service.
        service["mode"] = "down"
        calls_before = len(fake.requests)
        open_pages = [stack.get(browser, "/cards/") for _ in range(5)]
        assert all(s == 200 and p.count("Status unavailable") == 3 for s, p, _ in open_pages)
        assert len(fake.requests) == calls_before
        open_ms = max(ms for _, _, ms in open_pages)

        # The API says the same: "unknown" per card, and "not now" in its error shape.
        _, token = AuthToken.objects.create(holder.user)
        status, body = _api(stack, token, "GET", "/api/v1/cards/")
        assert status == 200
        assert {card["walletStatus"] for card in body} == {"unknown"}
        status, body = _api(
            stack, token, "POST", f"/api/v1/cards/{cards[0].public_id}/provisioning/"
        )
        assert status == 502 and body["code"] == "upstream_unavailable" and body["message"]
        assert len(fake.requests) == calls_before

        # Back: after BREAKER_S one try goes through, and the cards are offered again.
        service["mode"] = "ok"
        time.sleep(BREAKER_S)
        status, page, back_ms = stack.get(browser, "/cards/")
        assert status == 200 and page.count("/provision/") == 3
    finally:
        fake.stop()
    record_figures(
        "token_service_slow_then_down",
        page_with_slow_service_ms=round(slow_ms),
        lookup_budget_ms=round(LOOKUP_BUDGET_S * 1000),
        page_with_breaker_open_ms=round(open_ms),
        calls_while_open=0,
        calls_to_open_the_breaker=calls_before,
        api_card_status="unknown",
        api_provision="502 upstream_unavailable",
        first_page_after_recovery_ms=round(back_ms),
    )

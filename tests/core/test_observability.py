"""Structured logs with request and correlation ids, and the card-data masking filter."""

from __future__ import annotations

import io
import json
import logging

import pytest

from issuer_portal.core.observability import (
    CardDataMaskingFilter,
    ContextFilter,
    JsonFormatter,
    correlation,
    mask_card_data,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("card 4111111111111111 failed", "card [PAN] failed"),
        ("card 4111 1111 1111 1111 failed", "card [PAN] failed"),
        ("card 4111-1111-1111-1111!", "card [PAN]!"),
        ("amex 378282246310005.", "amex [PAN]."),
        ("19 digits 6011111111111111117? no: luhn", "19 digits 6011111111111111117? no: luhn"),
        ("order 1234567890123456 is not a card", "order 1234567890123456 is not a card"),
        ("NO 15038510190 x", "NO [NIN] x"),
        ("DK 010190-1234 x", "DK [NIN] x"),
        ("FI 131052-308T x", "FI [NIN] x"),
        ("SE 19811218-9876 x", "SE [NIN] x"),
        ("SE 811218-9876 x", "SE [NIN] x"),
        ("last4 1111, expiry 2028-12, id 12345", "last4 1111, expiry 2028-12, id 12345"),
        (
            '"GET /oidc/callback/?code=Xy-12_a&state=abc&iss=https%3A%2F%2Fidp HTTP/1.1" 302',
            '"GET /oidc/callback/?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fidp '
            'HTTP/1.1" 302',
        ),
        ("POST logout_token=eyJ.a.b", "POST logout_token=eyJ.a.b"),
        ("/x?logout_token=eyJ.a.b&y=1", "/x?logout_token=[redacted]&y=1"),
        ("the code=1 state=2 of things", "the code=1 state=2 of things"),
        # Identifiers whose last groups are a Luhn-valid run or a valid personnummer stay whole.
        (
            "card a1b463d9-a617-42da-8000-000000000003 started",
            "card a1b463d9-a617-42da-8000-000000000003 started",
        ),
        (
            "attempt 0bec49c9-f004-4846-b85c-198112189876 linked",
            "attempt 0bec49c9-f004-4846-b85c-198112189876 linked",
        ),
        # ... but card data beside them, or in something only shaped like one, does not.
        (
            "card a1b463d9-a617-42da-8000-000000000003:4111111111111111",
            "card a1b463d9-a617-42da-8000-000000000003:[PAN]",
        ),
        ("x a1b463d9-a617-42da-4111-111111111111 y", "x a1b463d9-a617-42da-[PAN] y"),
    ],
)
def test_masking(text, masked):
    assert mask_card_data(text) == masked


def _capture(*filters: logging.Filter, formatter: logging.Formatter | None = None):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    for item in filters:
        handler.addFilter(item)
    handler.setFormatter(formatter or logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"test.observability.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_filter_masks_messages_arguments_and_exceptions():
    logger, stream = _capture(CardDataMaskingFilter())
    logger.info("card number in message 5555555555554444")
    logger.warning("card in args %s and identity %s", "4242424242424242", "15038510190")
    try:
        raise ValueError("bad card 4000056655665556")
    except ValueError:
        logger.exception("failed for %s", {"number": "5105105105105100"})
    output = stream.getvalue()
    for secret in (
        "5555555555554444",
        "4242424242424242",
        "15038510190",
        "4000056655665556",
        "5105105105105100",
    ):
        assert secret not in output
    assert output.count("[PAN]") == 5 and "[NIN]" in output  # the traceback quotes the line too


def test_json_logs_carry_request_and_correlation_ids(client, db):
    logger, stream = _capture(ContextFilter(), CardDataMaskingFilter(), formatter=JsonFormatter())
    with correlation("corr-1234"):
        logger.info("inside 4111111111111111")
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "inside [PAN]"
    assert entry["correlation_id"] == "corr-1234" and entry["level"] == "INFO"


def test_requests_get_an_id_echoed_in_the_response(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc12345-incoming")
    assert response["X-Request-ID"] == "abc12345-incoming"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")
    assert (
        generated["X-Request-ID"] != "bad id with spaces" and len(generated["X-Request-ID"]) == 32
    )


def test_the_configured_handler_masks(settings):
    from django.conf import settings as live

    handler = live.LOGGING["handlers"]["console"]
    assert handler["filters"] == ["context", "mask_card_data"]


def test_metrics_are_protected_and_report_outcomes_latency_retries_and_cache(
    client, settings, alice, vipps_sandbox
):
    from provisioning import services

    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    vipps_sandbox.faults.append("503")
    card = alice.cards.first()
    attempt = services.start_provisioning(cardholder=alice, card=card, channel="web")
    services.provision_now_or_later(attempt)  # transient failure: one retry scheduled
    from tokens.services import wallet_state_for_card

    wallet_state_for_card(card)
    wallet_state_for_card(card)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").content.decode()
    assert (
        'provisioning_attempts_last_24h{error_code="INTERNAL_SERVER_ERROR",state="requested"} 1.0'
        in body
    )
    assert 'vipps_upstream_latency_seconds_count{outcome="transient"}' in body
    assert "provisioning_retries_total" in body
    assert 'token_status_cache_requests_total{result="hit"}' in body
    assert 'token_service_latency_seconds_count{adapter="simulator",outcome="success"}' in body

"""Schemathesis against the live API and its own OpenAPI schema (real HTTP, real database)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from knox.models import AuthToken

from tests.factories import CardFactory, CardholderFactory, UserFactory

CHECKS = ",".join(
    [
        "not_a_server_error",  # no 5xx
        "status_code_conformance",  # only documented statuses
        "content_type_conformance",
        "response_schema_conformance",  # bodies match the schema
        "response_headers_conformance",
        "negative_data_rejection",  # invalid input is rejected
        "ignored_auth",  # auth is enforced
        "unsupported_method",
    ]
)


@pytest.fixture
def api_caller(transactional_db, settings):
    settings.PROVISIONING_RATE_LIMIT = 10_000
    settings.CARD_EVENTS_API_KEY = "not-the-callers"  # on: the caller's token gets 401, not 503
    holder = CardholderFactory(user=UserFactory(username="fuzzer"))
    CardFactory(cardholder=holder, raw_pan="4111111111111111")
    CardFactory(cardholder=holder, raw_pan="5555555555554444")
    return AuthToken.objects.create(holder.user)[1]


def test_schemathesis_finds_no_5xx_and_no_schema_violations(
    live_server, api_caller, vipps_sandbox, tmp_path
):
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{live_server.url}/api/v1/schema/",
            "--checks",
            CHECKS,
            "--header",
            f"Authorization: Token {api_caller}",
            "--max-examples",
            "25",
            "--request-timeout",
            "15",
            "--seed",
            "20261121",
            "--exclude-path",
            "/api/v1/auth/token/",  # sign-ins with random passwords would lock accounts out
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]

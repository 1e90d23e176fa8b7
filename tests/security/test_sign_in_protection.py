"""Item 2: sign-in protection that works behind the bank's proxy and against rotating addresses."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from issuer_portal.core.client_address import client_ip
from issuer_portal.core.models import AuditEntry

PROXY = "10.0.0.1"
PASSWORD = "correct horse battery"


def sign_in(client, username: str, password: str, *, via: str):
    """A browser at ``via`` reaching us through the bank's one reverse proxy."""
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=via,
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy configured: the header is the client's lie
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the forged left entry is ignored
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.1"),  # too few hops: not through our proxies
        (1, "not-an-address", "10.0.0.1"),
    ],
)
def test_one_function_picks_the_right_most_untrusted_forwarded_address(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_behind_the_proxy_the_attacker_is_locked_and_the_owner_still_signs_in(
    settings, client, alice
):
    settings.TRUSTED_PROXY_COUNT = 1
    alice.user.set_password(PASSWORD)
    alice.user.save()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "alice", "guess", via="203.0.113.9")
    locked = sign_in(client, "alice", PASSWORD, via="203.0.113.9")
    assert locked.status_code == 429
    owner = sign_in(client, "alice", PASSWORD, via="198.51.100.7")
    assert owner.status_code == 302, "the owner at another address is not locked out"
    failures = AuditEntry.objects.filter(action="auth.sign_in", outcome="failure")
    assert set(failures.values_list("source_ip", flat=True)) == {"203.0.113.9"}


def test_guesses_spread_over_many_addresses_hit_a_per_username_ceiling(settings, client, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 8
    alice.user.set_password(PASSWORD)
    alice.user.save()
    for n in range(8):
        response = sign_in(client, "alice", f"guess-{n}", via=f"203.0.113.{n + 1}")
        assert response.status_code == 200  # each address is below its own limit
    refused = sign_in(client, "alice", PASSWORD, via="198.51.100.7")
    assert refused.status_code == 429, "no more guesses for this username from anywhere"
    api = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.8",
    )
    assert api.status_code == 429 and api.json()["code"] == "rate_limited"


def test_the_ceiling_counts_per_username_only(settings, client, alice, bob):
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 3
    bob.user.set_password(PASSWORD)
    bob.user.save()
    for n in range(3):
        sign_in(client, "alice", "guess", via=f"203.0.113.{n + 1}")
    assert sign_in(client, "bob", PASSWORD, via="203.0.113.50").status_code == 302

"""Everything that must not sign anyone in, against the real provider: a forged state, a
replayed code, an ID token with the wrong audience or issuer, a bad signature, an expired token,
an unknown key; and a provider that is down or slow."""

from __future__ import annotations

import logging
import secrets
import socket
import threading

import pytest

from tests.accounts.test_cardholder_sign_in import sign_in
from tests.identity_provider import portal_path
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def to_callback(client, provider, *, login: str = "alice") -> str:
    """Sign in at the provider and stop before the portal's callback runs: its URL."""
    response = client.get("/accounts/login/")
    return provider.walk(response["Location"], login=login, browser=provider.browser_session())


def assert_refused(
    response, caplog, reason_part: str, secrets_seen: list[str], *, signed_in_before: bool = False
) -> None:
    assert response.status_code in (400, 403)
    if not signed_in_before:
        assert "_auth_user_id" not in response.wsgi_request.session
    refusals = [r for r in caplog.records if r.name == "issuer_portal.security"]
    assert any(reason_part in r.getMessage() for r in refusals), [r.getMessage() for r in refusals]
    for secret in secrets_seen:
        assert secret not in caplog.text


def test_a_forged_state_is_refused(client, alice, cardholder_sign_in, caplog):
    caplog.set_level(logging.DEBUG)
    back = to_callback(client, cardholder_sign_in)
    forged = back.replace("state=", f"state={secrets.token_urlsafe(8)}")
    response = client.get(portal_path(forged))
    assert_refused(response, caplog, "state_mismatch", [])
    assert "We could not sign you in" in response.content.decode()


def test_a_replayed_code_is_refused_by_us_and_by_the_provider(
    client, alice, cardholder_sign_in, caplog
):
    from django.test import Client

    caplog.set_level(logging.DEBUG)
    back = to_callback(client, cardholder_sign_in)
    # A second browser that somehow holds the same state (its session copied) replays the code.
    thief = Client()
    thief.get("/")
    session = thief.session
    for key, value in client.session.items():
        session[key] = value
    session.save()
    assert client.get(portal_path(back))["Location"] == "/cards/"
    code = back.split("code=")[1].split("&")[0]
    # Ours: the state was used up with the first callback.
    assert_refused(
        client.get(portal_path(back)), caplog, "state_mismatch", [code], signed_in_before=True
    )
    # The provider's: the code was used up too.
    response = thief.get(portal_path(back))
    assert_refused(response, caplog, "invalid_grant", [code])


@pytest.mark.parametrize(
    "mode",
    ["wrong-audience", "wrong-issuer", "bad-signature", "expired", "unknown-kid", "wrong-nonce"],
)
def test_an_id_token_that_fails_a_check_signs_no_one_in(
    client, alice, cardholder_sign_in, caplog, mode
):
    from issuer_portal.core.audit import AuditEntry

    caplog.set_level(logging.DEBUG)
    cardholder_sign_in.tamper_next_id_token(mode)
    back = to_callback(client, cardholder_sign_in)
    code = back.split("code=")[1].split("&")[0]
    response = client.get(portal_path(back))
    assert_refused(response, caplog, "id_token:", [code])
    entry = AuditEntry.objects.filter(action="auth.sign_in", outcome="refused").get()
    assert entry.details["reason"].startswith("id_token:")
    # The next, untouched sign-in works: nothing was left half done.
    assert sign_in(client, cardholder_sign_in, login="alice")[0]["Location"] == "/cards/"


def test_a_provider_that_is_down_gets_a_clear_page(client, alice, cardholder_sign_in, settings):
    settings.OIDC_ISSUER = f"https://127.0.0.1:{free_port()}"
    response = client.get("/cards/", follow=True)
    assert response.status_code == 503
    assert "Signing in is not possible right now" in response.content.decode()


def test_a_provider_that_does_not_answer_in_time_gets_a_clear_page(
    client, alice, cardholder_sign_in, settings
):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(silent.accept()[0]), daemon=True).start()
    settings.OIDC_ISSUER = f"https://127.0.0.1:{silent.getsockname()[1]}"
    settings.OIDC_TIMEOUT_SECONDS = 0.5
    try:
        response = client.get("/cards/", follow=True)
    finally:
        silent.close()
        for connection in held:
            connection.close()
    assert response.status_code == 503
    assert "Try again" in response.content.decode()

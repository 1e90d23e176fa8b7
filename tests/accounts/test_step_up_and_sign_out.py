"""Step-up through the provider (max_age, acr_values), RP-initiated sign-out and back-channel
logout, against the real provider."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from jwcrypto import jwk, jwt

from issuer_portal.core.step_up import AUTHENTICATED_AT
from tests.accounts.test_cardholder_sign_in import sign_in
from tests.identity_provider import CARDHOLDER_CLIENT, ONLINE_BANK_CLIENT, portal_path


def age_the_sign_in(client, seconds: int = 3600) -> None:
    session = client.session
    session[AUTHENTICATED_AT] = time.time() - seconds
    session.save()


@pytest.mark.django_db
def test_add_after_an_old_sign_in_asks_the_provider_again_then_carries_on(
    client, alice, cardholder_sign_in, settings, vipps_sandbox
):
    settings.OIDC_STEP_UP_ACR = "urn:bank:loa:high"
    sign_in(client, cardholder_sign_in, login="alice")
    card = alice.cards.first()
    age_the_sign_in(client)
    response = client.post(f"/cards/{card.public_id}/provision/", follow=True)
    authorize = response.redirect_chain[-1][0]
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(cardholder_sign_in.issuer)
    assert query["max_age"] == ["300"] and query["acr_values"] == ["urn:bank:loa:high"]
    assert not card.provisioning_attempts.exists()
    # At the provider (another device's browser, so it asks): alice signs in at "high".
    back = cardholder_sign_in.walk(
        authorize, login="alice", browser=cardholder_sign_in.browser_session()
    )
    response = client.get(portal_path(back))
    assert response["Location"] == f"/cards/{card.public_id}/provision/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Add to" in page.content.decode()
    added = client.post(f"/cards/{card.public_id}/provision/")
    assert added.status_code in (302, 303)
    assert card.provisioning_attempts.count() == 1


@pytest.mark.django_db
def test_a_step_up_below_the_required_level_changes_nothing(
    client, alice, cardholder_sign_in, settings
):
    settings.OIDC_STEP_UP_ACR = "urn:bank:loa:high"
    _, _, browser = sign_in(client, cardholder_sign_in, login="alice")
    card = alice.cards.first()
    age_the_sign_in(client)
    # The provider's session (at "substantial") is young: it answers without asking again.
    authorize = client.get(f"/cards/{card.public_id}/nfc/", follow=True).redirect_chain[-1][0]
    back = cardholder_sign_in.walk(authorize, login="alice", browser=browser)
    response = client.get(portal_path(back))
    assert response.status_code == 403
    assert "We could not confirm it was you" in response.content.decode()
    assert client.get(f"/cards/{card.public_id}/nfc/")["Location"].startswith("/accounts/confirm/")


@pytest.mark.django_db
def test_a_step_up_by_another_person_is_refused(client, alice, bob, cardholder_sign_in):
    sign_in(client, cardholder_sign_in, login="alice")
    card = alice.cards.first()
    age_the_sign_in(client)
    authorize = client.get(f"/cards/{card.public_id}/nfc/", follow=True).redirect_chain[-1][0]
    # Another browser at the provider: bob signs in there.
    back = cardholder_sign_in.walk(
        authorize, login="bob", browser=cardholder_sign_in.browser_session()
    )
    assert client.get(portal_path(back)).status_code == 403
    assert client.session.get(AUTHENTICATED_AT, 0) < time.time() - 3000


@pytest.mark.django_db
def test_signing_out_ends_the_provider_session_without_a_token_in_the_url(
    client, alice, cardholder_sign_in
):
    _, _, browser = sign_in(client, cardholder_sign_in, login="alice")
    response = client.post("/accounts/logout/")
    end_session = response["Location"]
    query = parse_qs(urlsplit(end_session).query)
    assert end_session.startswith(cardholder_sign_in.issuer)
    assert query["client_id"] == [CARDHOLDER_CLIENT]
    assert query["post_logout_redirect_uri"] == [
        f"{cardholder_sign_in.portal_url}/accounts/signed-out/"
    ]
    assert "id_token_hint" not in query
    assert "_auth_user_id" not in client.session
    # At the provider: "sign me out", then back to our signed-out page.
    page = browser.get(end_session, timeout=10)
    assert "logout" in page.text.lower()
    assert client.get("/accounts/signed-out/").status_code == 200
    # A new visit asks for a sign-in at the provider again.
    authorize = client.get("/cards/", follow=True).redirect_chain[-1][0]
    cardholder_sign_in.end_session(browser, client_id=CARDHOLDER_CLIENT)
    landing = browser.get(authorize, timeout=10)
    assert "Login name" in landing.text


def logout_token(provider, **claims) -> str:
    key = jwk.JWK(**provider.signing_jwk)
    now = int(time.time())
    body = {
        "iss": provider.issuer,
        "aud": CARDHOLDER_CLIENT,
        "iat": now,
        "jti": f"jti-{time.monotonic_ns()}",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    token = jwt.JWT(header={"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims=body)
    token.make_signed_token(key)
    return token.serialize()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_signing_out_of_the_online_bank_signs_the_cardholder_out_here(
    client, alice, cardholder_sign_in
):
    _, _, browser = sign_in(client, cardholder_sign_in, login="alice")
    assert client.get("/cards/").status_code == 200
    before = len(cardholder_sign_in.logouts())
    cardholder_sign_in.end_session(browser, client_id=ONLINE_BANK_CLIENT)
    deliveries = cardholder_sign_in.logouts()[before:]
    assert [d["status"] for d in deliveries if "/oidc/backchannel-logout/" in d["url"]] == [200]
    assert client.get("/cards/")["Location"].startswith("/accounts/login/")
    # The same logout token again is refused.
    replay = client.post(
        "/oidc/backchannel-logout/",
        deliveries[0]["body"],
        content_type="application/x-www-form-urlencoded",
    )
    assert replay.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        ({"sub": "alice"}, True),
        ({"sub": "alice", "nonce": "n"}, False),
        ({"sub": "alice", "events": None}, False),
        ({"sub": "alice", "aud": "someone-else"}, False),
        ({"sub": "alice", "iss": "https://evil.example"}, False),
        ({"sub": "alice", "iat": int(time.time()) - 3600}, False),
        ({}, False),
    ],
)
def test_logout_tokens_are_checked(client, alice, cardholder_sign_in, claims, accepted):
    sign_in(client, cardholder_sign_in, login="alice")
    other = client.__class__()
    token = logout_token(cardholder_sign_in, **claims)
    response = other.post("/oidc/backchannel-logout/", {"logout_token": token})
    assert response.status_code == (200 if accepted else 400)
    signed_out = client.get("/cards/").status_code == 302
    assert signed_out is accepted


@pytest.mark.django_db
def test_a_logout_token_signed_by_another_key_is_refused(client, alice, cardholder_sign_in):
    sign_in(client, cardholder_sign_in, login="alice")
    stranger = jwk.JWK.generate(kty="RSA", size=2048, kid=cardholder_sign_in.signing_jwk["kid"])
    provider = type(cardholder_sign_in)(**{**cardholder_sign_in.__dict__})
    provider.signing_jwk = {**stranger.export(as_dict=True, private_key=True), "alg": "RS256"}
    token = logout_token(provider, sub="alice")
    assert client.post("/oidc/backchannel-logout/", {"logout_token": token}).status_code == 400
    assert client.get("/cards/").status_code == 200

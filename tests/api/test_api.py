"""The mobile app's REST API: auth, personas, errors, idempotency, the journey, the schema."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from django.core.cache import cache
from jwcrypto import jwk, jwt
from knox.models import AuthToken

from provisioning.models import ProvisioningAttempt
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.bank.example"
AUDIENCE = "issuer-portal-api"


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


def token_header(user) -> dict[str, str]:
    _, token = AuthToken.objects.create(user)
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


@pytest.fixture
def signing_keys():
    return {
        "rsa": jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1"),
        "ec": jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1"),
    }


@pytest.fixture
def oidc(settings, tmp_path, signing_keys):
    keyset = jwk.JWKSet()
    for key in signing_keys.values():
        keyset.add(key)
    path = tmp_path / "jwks.json"
    path.write_text(keyset.export(private_keys=False))
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_AUDIENCE = AUDIENCE
    settings.OIDC_JWKS_FILE = str(path)
    return signing_keys


def make_jwt(key: jwk.JWK, alg: str = "RS256", **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    token = jwt.JWT(header={"alg": alg, "kid": key.get("kid")}, claims=body)
    token.make_signed_token(key)
    return token.serialize()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- authentication ------------------------------------------------------------------------


def test_unauthenticated_requests_get_401_with_the_error_shape(client, alice):
    response = client.get("/api/v1/cards/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "unauthenticated",
        "message": "Authentication credentials were not provided.",
        "details": None,
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert client.get("/api/v1/cards/", HTTP_AUTHORIZATION="Token nonsense").status_code == 401


def test_token_endpoint(client, alice):
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "correct horse battery"},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.get("/api/v1/cards/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    wrong = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "wrong"},
        content_type="application/json",
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_credentials"
    # Revoked in admin (deleted): the token stops working.
    AuthToken.objects.filter(user__username="alice").delete()
    assert client.get("/api/v1/cards/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 401


def test_token_endpoint_locks_out_after_repeated_failures(client, alice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": "wrong"},
            content_type="application/json",
        )
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "correct horse battery"},
        content_type="application/json",
    )
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_valid_bearer_jwts_from_the_identity_provider(client, alice, oidc, kind):
    alg = "RS256" if kind == "rsa" else "ES256"
    response = client.get("/api/v1/cards/", **bearer(make_jwt(oidc[kind], alg)))
    assert response.status_code == 200 and len(response.json()) == 2
    ps256 = make_jwt(oidc["rsa"], "PS256")
    assert client.get("/api/v1/cards/", **bearer(ps256)).status_code == 200


def _unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _hmac_with_public_key(public: jwk.JWK) -> str:
    # The classic confusion attack: HS256 keyed with the RSA public key's bytes.
    secret = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(public.export_to_pem()).decode())
    token = jwt.JWT(
        header={"alg": "HS256", "kid": public.get("kid")},
        claims={"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300},
    )
    token.make_signed_token(secret)
    return token.serialize()


@pytest.mark.parametrize(
    "make",
    [
        lambda keys: make_jwt(keys["rsa"], exp=int(time.time()) - 120),  # expired
        lambda keys: make_jwt(jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1")),  # unknown key
        lambda keys: make_jwt(jwk.JWK.generate(kty="RSA", size=2048, kid="other")),
        lambda keys: make_jwt(keys["rsa"], aud="someone-else"),
        lambda keys: make_jwt(keys["rsa"], iss="https://evil.example"),
        lambda keys: make_jwt(keys["rsa"], exp=None),  # no expiry at all
        lambda keys: make_jwt(keys["rsa"], nbf=int(time.time()) + 600),  # not yet valid
        lambda keys: make_jwt(keys["rsa"], sub="nobody"),  # no such user
        lambda keys: _unsigned(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300}
        ),
        lambda keys: _hmac_with_public_key(keys["rsa"]),
        lambda keys: "not.a.jwt",
    ],
    ids=[
        "expired",
        "unknown-key-same-kid",
        "unknown-kid",
        "wrong-audience",
        "wrong-issuer",
        "no-exp",
        "nbf-future",
        "unknown-subject",
        "alg-none",
        "hmac-with-public-key",
        "garbage",
    ],
)
def test_bad_bearer_jwts_are_401(client, alice, oidc, make):
    response = client.get("/api/v1/cards/", **bearer(make(oidc)))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_small_clock_skew_is_tolerated(client, alice, oidc):
    token = make_jwt(oidc["rsa"], exp=int(time.time()) - 10, nbf=int(time.time()) + 10)
    assert client.get("/api/v1/cards/", **bearer(token)).status_code == 200


def test_session_auth_works_for_the_portal_script_with_csrf(alice, vipps_sandbox):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice.user)
    assert browser.get("/api/v1/cards/").status_code == 200
    card = alice.cards.first()
    refused = browser.post(f"/api/v1/cards/{card.public_id}/provisioning/", {}, "application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    browser.get("/cards/")
    csrf = browser.cookies["csrftoken"].value
    allowed = browser.post(
        f"/api/v1/cards/{card.public_id}/provisioning/",
        {},
        "application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert allowed.status_code == 201


# --- personas and resources ---------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
def test_each_caller_sees_and_acts_on_only_their_cards(
    request, client, persona, alice, bob, charlie, vipps_sandbox
):
    holder = request.getfixturevalue(persona)
    auth = token_header(holder.user)
    listed = client.get("/api/v1/cards/", **auth).json()
    own = {str(card.public_id) for card in holder.cards.all()}
    assert {card["id"] for card in listed} == own
    missing = client.get(f"/api/v1/cards/{uuid.uuid4()}/", **auth)
    for other in (alice, bob, charlie):
        for card in other.cards.all():
            detail = client.get(f"/api/v1/cards/{card.public_id}/", **auth)
            start = client.post(
                f"/api/v1/cards/{card.public_id}/provisioning/", {}, "application/json", **auth
            )
            nfc = client.get(f"/api/v1/cards/{card.public_id}/nfc-link/", **auth)
            if other == holder:
                assert detail.status_code == 200
            else:
                # Indistinguishable from a card that does not exist.
                for response in (detail, start, nfc):
                    assert response.status_code == 404
                    assert response.json() == missing.json()
    attempts = ProvisioningAttempt.objects.filter(cardholder=holder)
    assert ProvisioningAttempt.objects.exclude(cardholder=holder).count() == 0
    for attempt in attempts:
        assert client.get(f"/api/v1/provisioning/{attempt.public_id}/", **auth).status_code == 200


def test_card_fields_and_no_card_data(client, alice):
    response = client.get("/api/v1/cards/", **token_header(alice.user))
    body = response.content.decode()
    card = next(c for c in response.json() if c["last4"] == "4444")
    assert card == {
        "id": str(alice.cards.get(last4="4444").public_id),
        "network": "mastercard",
        "brand": "vipps",
        "product": "Mastercard Gold",
        "nickname": "Travel",
        "last4": "4444",
        "expiry": "2030-06",
        "state": "active",
        "walletStatus": "not_added",
        "eligible": True,
        "ineligibility": None,
        "actions": ["push_provision"],
        "nfcActionIsSecondary": False,
    }
    for secret in (PAN_ALICE_VISA, PAN_ALICE_MC, alice.nin.reveal()):
        assert secret not in body


def test_one_error_shape_for_every_error(client, alice, vipps_sandbox):
    auth = token_header(alice.user)
    card = alice.cards.first()
    url = f"/api/v1/cards/{card.public_id}/provisioning/"
    cases = [
        (client.delete("/api/v1/cards/", **auth), 405, "method_not_allowed"),
        (client.post(url, "{not json", "application/json", **auth), 400, "malformed_request"),
        (client.post(url, "returnUrl=x", "text/plain", **auth), 415, "unsupported_media_type"),
        (
            client.post(url, {"returnUrl": "https://evil.example/"}, "application/json", **auth),
            400,
            "validation_error",
        ),
    ]
    for response, status, code in cases:
        assert response.status_code == status
        assert set(response.json()) == {"code", "message", "details"}
        assert response.json()["code"] == code
    assert cases[3][0].json()["details"] == {
        "returnUrl": ["Not one of the app's registered return URLs."]
    }


def test_ineligible_cards_are_403_not_eligible(client, alice, vipps_sandbox):
    card = alice.cards.first()
    card.state = "blocked"
    card.save()
    response = client.post(
        f"/api/v1/cards/{card.public_id}/provisioning/",
        {},
        "application/json",
        **token_header(alice.user),
    )
    assert response.status_code == 403
    assert response.json() == {
        "code": "not_eligible",
        "message": "This card is blocked.",
        "details": None,
    }
    nfc = client.get(f"/api/v1/cards/{card.public_id}/nfc-link/", **token_header(alice.user))
    assert nfc.status_code == 403 and nfc.json()["code"] == "not_eligible"
    assert vipps_sandbox.seen == []


def test_rate_limit_is_429_with_retry_after(client, alice, vipps_sandbox, settings):
    settings.PROVISIONING_RATE_LIMIT = 1
    auth = token_header(alice.user)
    visa, mastercard = alice.cards.get(last4="1111"), alice.cards.get(last4="4444")
    first = client.post(
        f"/api/v1/cards/{visa.public_id}/provisioning/", {}, "application/json", **auth
    )
    assert first.status_code == 201
    second = client.post(
        f"/api/v1/cards/{mastercard.public_id}/provisioning/", {}, "application/json", **auth
    )
    assert second.status_code == 429 and second.json()["code"] == "rate_limited"
    assert int(second["Retry-After"]) > 0


def test_pending_attempt_is_202_and_polls_to_the_link(client, alice, vipps_sandbox):
    from provisioning.tasks import provision_card

    vipps_sandbox.faults.append("503")
    auth = token_header(alice.user)
    card = alice.cards.first()
    response = client.post(
        f"/api/v1/cards/{card.public_id}/provisioning/", {}, "application/json", **auth
    )
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "requested" and body["universalLink"] is None
    provision_card.apply(args=[ProvisioningAttempt.objects.get().pk])
    polled = client.get(body["pollUrl"], **auth).json()
    assert polled["state"] == "link_ready" and polled["universalLink"].startswith("http")


def test_upstream_rejection_is_502_upstream_unavailable(client, alice, vipps_sandbox):
    vipps_sandbox.faults.append("400")
    card = alice.cards.first()
    response = client.post(
        f"/api/v1/cards/{card.public_id}/provisioning/",
        {},
        "application/json",
        **token_header(alice.user),
    )
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"
    assert response.json()["details"]["state"] == "failed"


# --- idempotency ---------------------------------------------------------------------------------


def _start(client, card, auth, key, body=None):
    return client.post(
        f"/api/v1/cards/{card.public_id}/provisioning/",
        body or {},
        "application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **auth,
    )


def test_idempotency_replay_changed_body_and_caller_scope(
    client, alice, bob, vipps_sandbox, settings
):
    settings.APP_RETURN_URLS = ["https://app.bank.example/vipps-return"]
    auth = token_header(alice.user)
    card = alice.cards.first()
    first = _start(client, card, auth, "key-1")
    again = _start(client, card, auth, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert len(vipps_sandbox.seen) == 1
    changed = _start(client, card, auth, "key-1", {"returnUrl": settings.APP_RETURN_URLS[0]})
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"
    # Another caller's identical key is theirs alone.
    bob_response = _start(client, bob.cards.get(), token_header(bob.user), "key-1")
    assert bob_response.status_code == 201 and "Idempotent-Replayed" not in bob_response
    bad = _start(client, card, auth, "x" * 300)
    assert bad.status_code == 400


def test_idempotency_key_is_released_when_the_request_fails_before_a_response(
    client, alice, vipps_sandbox
):
    card = alice.cards.first()
    card.state = "blocked"
    card.save()
    auth = token_header(alice.user)
    assert _start(client, card, auth, "key-2").status_code == 403
    card.state = "active"
    card.save()
    assert _start(client, card, auth, "key-2").status_code == 201


# --- the journey ---------------------------------------------------------------------------------


def test_whole_journey_through_the_api(client, alice, vipps_sandbox):
    from django.test import Client

    token = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "correct horse battery"},
        content_type="application/json",
    ).json()["token"]
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    cards = client.get("/api/v1/cards/", **auth).json()
    visa = next(c for c in cards if c["network"] == "visa")
    assert visa["actions"] == ["push_provision"]
    started = client.post(
        f"/api/v1/cards/{visa['id']}/provisioning/",
        {},
        "application/json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        **auth,
    )
    assert started.status_code == 201
    polled = client.get(started.json()["pollUrl"], **auth).json()
    link = polled["universalLink"]
    assert polled["state"] == "link_ready" and link
    # The phone opens the universal link in the (sandbox) app and confirms.
    phone = Client()
    confirmed = phone.post(link.removeprefix("http://127.0.0.1:8000"))
    back = phone.get(confirmed["Location"].removeprefix("http://127.0.0.1:8000"))
    assert "Your card is now in Vipps" in back.content.decode()
    assert client.get(started.json()["pollUrl"], **auth).json()["state"] == "completed"
    card = client.get(f"/api/v1/cards/{visa['id']}/", **auth).json()
    assert card["walletStatus"] == "added" and card["actions"] == ["nfc_enroll"]
    nfc = client.get(f"/api/v1/cards/{visa['id']}/nfc-link/", **auth)
    assert nfc.status_code == 200
    assert "token-reference=DNITHE" in nfc.json()["url"]


# --- the schema --------------------------------------------------------------------------------


def test_schema_and_local_docs(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    start = document["paths"]["/api/v1/cards/{card_id}/provisioning/"]["post"]
    assert {"201", "202", "400", "401", "403", "404", "409", "422", "429", "502"} <= set(
        start["responses"]
    )
    assert "bankIdentityProvider" in document["components"]["securitySchemes"]
    reference = client.get("/api/v1/docs/").content.decode()
    # Every operation of the schema is on the reference page, with its responses.
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()}</span> <code>{path}</code>" in reference
    assert "<caption>Responses</caption>" in reference and "<script" not in reference
    docs = client.get("/api/v1/docs/try/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "cdn" not in docs.lower() and "unpkg" not in docs.lower()


def test_api_404s_keep_the_error_shape_and_pages_keep_theirs(client, alice):
    auth = token_header(alice.user)
    for url in ("/api/v1/cards/not-a-uuid/", "/api/v1/nothing-here/"):
        response = client.get(url, **auth)
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "message": "Not found.", "details": None}
    client.force_login(alice.user)
    page = client.get("/cards/not-a-uuid/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    bad = client.get(f"/api/v1/cards/{alice.cards.first().public_id}/?refresh=maybe", **auth)
    assert bad.status_code == 400 and bad.json()["details"] == {
        "refresh": ["Must be true or false."]
    }


def test_idempotency_keys_are_kept_a_day_then_purged(client, alice, vipps_sandbox):
    import datetime

    from django.utils import timezone

    from issuer_portal.api.models import IdempotencyKey
    from issuer_portal.api.tasks import purge_idempotency_keys

    _start(client, alice.cards.first(), token_header(alice.user), "keep-me")
    assert purge_idempotency_keys() == 0
    IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=25))
    assert purge_idempotency_keys() == 1


def test_jwks_from_an_https_url_is_fetched_once_and_cached(
    client, alice, settings, signing_keys, tmp_path
):
    from issuer_portal.core.outbound import reset_pools
    from tests.fakes import Answer, FakeServer

    keyset = jwk.JWKSet()
    keyset.add(signing_keys["rsa"])
    server = FakeServer(
        answer=lambda request: Answer(body=json.loads(keyset.export(private_keys=False))), tls=True
    ).start(tmp_path)
    try:
        settings.OIDC_ISSUER, settings.OIDC_AUDIENCE = ISSUER, AUDIENCE
        settings.OIDC_JWKS_FILE = ""
        # A path of this test's own, so no key set cached by another test answers for it.
        jwks_path = f"/{uuid.uuid4()}/jwks.json"
        settings.OIDC_JWKS_URL = f"{server.url}{jwks_path}"
        settings.OIDC_CA_BUNDLE = str(server.ca.write(tmp_path, "idp-ca")[0])
        for _ in range(3):
            token = make_jwt(signing_keys["rsa"])
            assert client.get("/api/v1/cards/", **bearer(token)).status_code == 200
        assert [r.path for r in server.requests] == [jwks_path]
        # An identity provider we cannot reach or trust: 401, never a 500.
        settings.OIDC_JWKS_URL = f"{server.url}/{uuid.uuid4()}/jwks.json"
        settings.OIDC_CA_BUNDLE = ""
        reset_pools()
        assert (
            client.get("/api/v1/cards/", **bearer(make_jwt(signing_keys["rsa"]))).status_code == 401
        )
    finally:
        server.stop()
        reset_pools()

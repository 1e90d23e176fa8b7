"""Bearer JWTs from the bank's identity provider, validated with jwcrypto against its JWKS.

Checked: signature (key chosen by ``kid`` from the JWKS), algorithm on an allow-list (RS256,
ES256, PS256: never ``none``, never HMAC), ``iss``, ``aud``, ``exp`` (required) and ``nbf`` with
a small leeway. The claim OIDC_USERNAME_CLAIM names the user (its username).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from jwcrypto import jwk, jwt
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from issuer_portal.core.outbound import OutboundError, TlsClientConfig, get_json

logger = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ["RS256", "ES256", "PS256"]

_jwks_lock = threading.Lock()
_jwks_cache: dict[str, tuple[float, jwk.JWKSet]] = {}


def _load_jwks() -> jwk.JWKSet:
    if settings.OIDC_JWKS_FILE:
        path = Path(settings.OIDC_JWKS_FILE)
        source = f"file:{path}:{path.stat().st_mtime}"
    else:
        source = f"url:{settings.OIDC_JWKS_URL}"
    now = time.monotonic()
    cached = _jwks_cache.get(source)
    if cached and now - cached[0] < settings.OIDC_JWKS_CACHE_SECONDS:
        return cached[1]
    with _jwks_lock:
        if settings.OIDC_JWKS_FILE:
            text = Path(settings.OIDC_JWKS_FILE).read_text()
        else:
            config = TlsClientConfig(ca_bundle=settings.OIDC_CA_BUNDLE or None)
            text = json.dumps(get_json(settings.OIDC_JWKS_URL, config=config))
        keyset = jwk.JWKSet.from_json(text)
        _jwks_cache.clear()
        _jwks_cache[source] = (now, keyset)
        return keyset


def validate_bearer_jwt(token: str) -> dict[str, Any]:
    """The token's claims if it is valid; raises AuthenticationFailed (reason logged, not sent)."""
    try:
        keyset = _load_jwks()
    except (OSError, ValueError, OutboundError) as error:
        logger.error("OIDC JWKS unavailable: %s", error)
        raise exceptions.AuthenticationFailed("The token cannot be checked right now.") from None
    checker = jwt.JWT(
        algs=ALLOWED_ALGORITHMS,
        check_claims={
            "iss": settings.OIDC_ISSUER,
            "aud": settings.OIDC_AUDIENCE,
            "exp": None,
            settings.OIDC_USERNAME_CLAIM: None,
        },
        expected_type="JWS",
    )
    checker.leeway = settings.OIDC_LEEWAY_SECONDS
    try:
        checker.deserialize(token, keyset)
        claims = json.loads(checker.claims)
    except Exception as error:  # noqa: BLE001 - jwcrypto raises many types; all mean "invalid"
        logger.info("bearer token refused: %s", error.__class__.__name__)
        raise exceptions.AuthenticationFailed("Invalid or expired token.") from None
    if not isinstance(claims, dict):
        raise exceptions.AuthenticationFailed("Invalid or expired token.")
    # jwcrypto checks nbf only when no check_claims are given, and listing nbf there would make
    # it mandatory: check it here when present.
    not_before = claims.get("nbf")
    if not_before is not None and (
        not isinstance(not_before, int | float)
        or not_before > time.time() + settings.OIDC_LEEWAY_SECONDS
    ):
        logger.info("bearer token refused: not valid yet")
        raise exceptions.AuthenticationFailed("Invalid or expired token.")
    return claims


class OidcJwtAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        if not (settings.OIDC_ISSUER and settings.OIDC_AUDIENCE) or not (
            settings.OIDC_JWKS_FILE or settings.OIDC_JWKS_URL
        ):
            raise exceptions.AuthenticationFailed("Bearer tokens are not configured.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.") from None
        claims = validate_bearer_jwt(token)
        username = claims.get(settings.OIDC_USERNAME_CLAIM)
        user = (
            get_user_model().objects.filter(username=str(username), is_active=True).first()
            if username
            else None
        )
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class CardEventsClient:
    """The bank's card management system: a machine, never a person or an account."""

    is_authenticated = True
    is_staff = False
    pk = None

    def get_username(self) -> str:
        return "card-management-system"

    def __str__(self) -> str:
        return self.get_username()


CARD_EVENTS_SCHEME = "ApiKey"


class CardEventsKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: ApiKey <CARD_EVENTS_API_KEY>``, for the card-events endpoint only."""

    def authenticate(self, request: Request) -> tuple[CardEventsClient, None] | None:
        header = request.headers.get("Authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme != CARD_EVENTS_SCHEME:
            return None
        expected = settings.CARD_EVENTS_API_KEY
        if not expected:
            return None  # the endpoint is off: its permission answers 503
        if not hmac.compare_digest(key.strip().encode(), expected.encode()):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return CardEventsClient(), None

    def authenticate_header(self, request: Request) -> str:
        return CARD_EVENTS_SCHEME

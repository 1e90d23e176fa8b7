"""Back-channel logout: a provider's logout token ends the portal sessions it names.

The token is checked (OpenID Connect Back-Channel Logout 1.0, section 2.6): signature by the
provider's JWKS, ``iss``, ``aud``, ``iat`` (recent), ``jti`` (each accepted once), the
back-channel logout event, ``sid`` or ``sub``, and no ``nonce``.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from issuer_portal.accounts.identity_provider import (
    ClientSettings,
    SignInRefused,
    provider_keys,
    provider_metadata,
)
from issuer_portal.accounts.models import ProviderSession, SeenLogoutToken
from issuer_portal.core.crypto import keyed_hash

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A logout token older than this is refused; its jti is remembered as long.
LOGOUT_TOKEN_MAX_AGE_SECONDS = 300
SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256"]


def _subject_hash(issuer: str, subject: str) -> str:
    return keyed_hash(f"oidc-sub:{issuer}", subject)


def remember_provider_session(request: HttpRequest, *, issuer: str, claims: dict[str, Any]) -> None:
    """Called after sign-in: the new session key with the provider's sid and subject."""
    if not request.session.session_key:
        request.session.save()
    ProviderSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "issuer": issuer,
            "sid": str(claims.get("sid", ""))[:255],
            "subject_hash": _subject_hash(issuer, str(claims.get("sub", ""))),
        },
    )


def forget_provider_session(session_key: str | None) -> None:
    if session_key:
        ProviderSession.objects.filter(session_key=session_key).delete()


def end_provider_sessions(*, issuer: str, sid: str = "", subject: str = "") -> int:
    """End every portal session of that ``sid`` (or, without one, of that subject)."""
    rows = ProviderSession.objects.filter(issuer=issuer)
    rows = rows.filter(sid=sid) if sid else rows.filter(subject_hash=_subject_hash(issuer, subject))
    keys = list(rows.values_list("session_key", flat=True))
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store(session_key=key).delete()
    ProviderSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def _decode(config: ClientSettings, token: str, *, refresh: bool) -> Any:
    keys = KeySet.import_key_set(provider_keys(config, refresh=refresh))
    return jwt.decode(token, keys, algorithms=SIGNING_ALGORITHMS)


def logout_token_claims(config: ClientSettings, token: str) -> dict[str, Any]:
    """The claims of a valid, first-seen logout token; raises SignInRefused (reason for the log)
    or IdentityProviderUnavailable (its keys cannot be fetched)."""
    if not isinstance(token, str) or not token or len(token) > 16_000:
        raise SignInRefused("logout_token_missing")
    issuer = provider_metadata(config).get("issuer", config.issuer)
    try:
        try:
            decoded = _decode(config, token, refresh=False)
        except InvalidKeyIdError:
            decoded = _decode(config, token, refresh=True)  # the provider rotated its keys
        registry = jwt.JWTClaimsRegistry(
            leeway=settings.OIDC_LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": config.client_id},
            iat={"essential": True},
            jti={"essential": True},
        )
        registry.validate(decoded.claims)
    except (JoseError, ValueError, TypeError) as error:
        raise SignInRefused(f"logout_token:{error.__class__.__name__}") from None
    claims = dict(decoded.claims)
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_LOGOUT_EVENT not in events:
        raise SignInRefused("logout_token:no_event")
    if "nonce" in claims:
        raise SignInRefused("logout_token:nonce")
    if not (claims.get("sid") or claims.get("sub")):
        raise SignInRefused("logout_token:no_sid_or_sub")
    issued = claims.get("iat")
    now = time.time()
    if not isinstance(issued, int | float) or not (
        now - LOGOUT_TOKEN_MAX_AGE_SECONDS - settings.OIDC_LEEWAY_SECONDS
        <= issued
        <= now + settings.OIDC_LEEWAY_SECONDS
    ):
        raise SignInRefused("logout_token:stale")
    # Each token once: a hash of (issuer, jti), never the token itself, kept in the database so
    # that a cache outage neither lets a replay through nor refuses a real logout.
    digest = hashlib.sha256(json.dumps([issuer, str(claims["jti"])]).encode()).hexdigest()
    SeenLogoutToken.objects.filter(
        seen_at__lt=timezone.now() - timedelta(seconds=2 * LOGOUT_TOKEN_MAX_AGE_SECONDS)
    ).delete()
    try:
        with transaction.atomic():
            SeenLogoutToken.objects.create(digest=digest)
    except IntegrityError:
        raise SignInRefused("logout_token:replayed") from None
    return claims

"""The bank's OpenID providers, as Authlib clients: one for cardholders, one for staff.

Authlib does the protocol: discovery from the issuer, the authorization code flow with PKCE
(S256), ``state`` and ``nonce``, the token request (client secret or ``private_key_jwt``) and the
ID token's signature (the provider's JWKS, fetched again once for an unknown ``kid``), ``iss``,
``aud``, ``exp``, ``iat`` and ``nonce`` with OIDC_LEEWAY_SECONDS. This module turns what can go
wrong into two plain errors and keeps every token and code out of logs and messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from joserfc.errors import JoseError

security_log = logging.getLogger("issuer_portal.security")

# Discovery and the JWKS are fetched again after this long (keys rotate; Authlib alone keeps
# them for the life of the process, apart from the refetch on an unknown kid).
METADATA_MAX_AGE_SECONDS = 3600


class IdentityProviderUnavailable(Exception):
    """The provider did not answer, or not in time: nobody is at fault, try again later."""


class SignInRefused(Exception):
    """What came back does not sign anyone in. ``reason`` is a short code for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ClientSettings:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    auth_method: str
    private_key_file: str
    scopes: str
    ca_bundle: str
    timeout: float

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def cardholder_client_settings() -> ClientSettings | None:
    """The cardholders' client, or None when cardholders sign in with passwords (the demo)."""
    if not (settings.OIDC_CLIENT_ID and settings.OIDC_ISSUER):
        return None
    return ClientSettings(
        name="cardholder",
        issuer=settings.OIDC_ISSUER,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET,
        auth_method=settings.OIDC_CLIENT_AUTH_METHOD,
        private_key_file=settings.OIDC_CLIENT_PRIVATE_KEY_FILE,
        scopes=settings.OIDC_SCOPES,
        ca_bundle=settings.OIDC_CA_BUNDLE,
        timeout=settings.OIDC_TIMEOUT_SECONDS,
    )


def staff_client_settings() -> ClientSettings | None:
    """The staff's client, or None when staff sign in to admin with passwords."""
    if not (settings.STAFF_OIDC_CLIENT_ID and settings.STAFF_OIDC_ISSUER):
        return None
    return ClientSettings(
        name="staff",
        issuer=settings.STAFF_OIDC_ISSUER,
        client_id=settings.STAFF_OIDC_CLIENT_ID,
        client_secret=settings.STAFF_OIDC_CLIENT_SECRET,
        auth_method="client_secret_basic",
        private_key_file="",
        scopes=settings.STAFF_OIDC_SCOPES,
        ca_bundle=settings.OIDC_CA_BUNDLE,
        timeout=settings.OIDC_TIMEOUT_SECONDS,
    )


class _ProviderSession(OAuth2Session):
    """Authlib's session, with its ``verify`` passed on each request: requests lets a
    REQUESTS_CA_BUNDLE in the environment win over a session's own (psf/requests#3829)."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class _ProviderApp(DjangoOAuth2App):
    client_cls = _ProviderSession


_apps: dict[ClientSettings, tuple[float, DjangoOAuth2App]] = {}
_apps_lock = threading.Lock()


def _build_app(config: ClientSettings) -> DjangoOAuth2App:
    client_kwargs: dict[str, Any] = {
        "scope": config.scopes,
        "code_challenge_method": "S256",
        # Never False: the provider's certificate is checked against the system's CAs or ours.
        "verify": config.ca_bundle or True,
        "default_timeout": config.timeout,
    }
    secret = config.client_secret
    if config.auth_method == "private_key_jwt":
        secret = Path(config.private_key_file).read_text()
        client_kwargs["token_endpoint_auth_method"] = PrivateKeyJWT(alg="RS256")
    else:
        client_kwargs["token_endpoint_auth_method"] = config.auth_method
    return _ProviderApp(
        DjangoIntegration(config.name),
        name=config.name,
        client_id=config.client_id,
        client_secret=secret,
        server_metadata_url=config.discovery_url,
        client_kwargs=client_kwargs,
    )


def client_for(config: ClientSettings) -> DjangoOAuth2App:
    """The Authlib client for these settings, its discovery document at most an hour old."""
    now = time.monotonic()
    with _apps_lock:
        built = _apps.get(config)
        if built is None or now - built[0] > METADATA_MAX_AGE_SECONDS:
            built = (now, _build_app(config))
            _apps[config] = built
        return built[1]


@contextmanager
def _provider_call(config: ClientSettings, what: str) -> Iterator[None]:
    """Discovery or keys that cannot be fetched (unreachable, slow, not JSON, incomplete)
    become IdentityProviderUnavailable, logged by kind only."""
    try:
        yield
    except (requests.RequestException, ValueError, RuntimeError) as error:
        security_log.warning(
            "identity provider %s: %s unavailable: %s",
            config.name,
            what,
            error.__class__.__name__,
        )
        raise IdentityProviderUnavailable from None


def provider_metadata(config: ClientSettings) -> dict[str, Any]:
    """The discovery document; raises IdentityProviderUnavailable."""
    with _provider_call(config, "discovery"):
        return client_for(config).load_server_metadata()


def redirect_to_provider(
    request: HttpRequest,
    config: ClientSettings,
    *,
    redirect_uri: str,
    max_age: int | None = None,
    acr_values: str = "",
) -> tuple[HttpResponseRedirect, str]:
    """The redirect that starts a sign-in, and its ``state``; raises IdentityProviderUnavailable.

    Authlib keeps ``state``, ``nonce`` and the PKCE verifier in the session until the callback.
    """
    extra: dict[str, Any] = {}
    if max_age is not None:
        extra["max_age"] = max_age
    if acr_values:
        extra["acr_values"] = acr_values
    language = getattr(request, "LANGUAGE_CODE", "")
    if language:
        extra["ui_locales"] = language
    app = client_for(config)
    with _provider_call(config, "discovery"):
        started = app.create_authorization_url(redirect_uri, **extra)
    app.save_authorize_data(
        request, redirect_uri=redirect_uri, **{k: v for k, v in started.items() if k != "url"}
    )
    return HttpResponseRedirect(started["url"]), started["state"]


def claims_from_callback(request: HttpRequest, config: ClientSettings) -> dict[str, Any]:
    """The validated ID token's claims for this callback.

    Raises SignInRefused (forged or reused ``state``, an error from the provider, a refused code,
    an ID token that fails any check) or IdentityProviderUnavailable. Neither carries a token.
    """
    app = client_for(config)
    try:
        token = app.authorize_access_token(request, leeway=settings.OIDC_LEEWAY_SECONDS)
    except MismatchingStateError:
        raise SignInRefused("state_mismatch") from None
    except OAuthError as error:
        # "invalid_grant" for a replayed or stolen code; "access_denied" when the person cancels.
        raise SignInRefused(f"provider_error:{str(error.error)[:40]}") from None
    except (requests.Timeout, requests.ConnectionError) as error:
        security_log.warning(
            "identity provider %s unreachable: %s", config.name, error.__class__.__name__
        )
        raise IdentityProviderUnavailable from None
    except requests.RequestException as error:
        raise SignInRefused(f"token_request:{error.__class__.__name__}") from None
    except JoseError as error:
        # Bad signature, unknown kid, wrong iss/aud, expired, missing or wrong nonce.
        raise SignInRefused(f"id_token:{error.__class__.__name__}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise SignInRefused(f"id_token:{error.__class__.__name__}") from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused("no_id_token")
    return dict(claims)


def end_session_url(config: ClientSettings, *, post_logout_redirect_uri: str) -> str | None:
    """Where the browser goes to sign out at the provider (``client_id``, no token in the URL),
    or None when the provider has no end-session endpoint or cannot be reached."""
    try:
        metadata = provider_metadata(config)
    except IdentityProviderUnavailable:
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    return client_for(config).create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri, client_id=config.client_id
    )["url"]


def provider_keys(config: ClientSettings, *, refresh: bool = False) -> dict[str, Any]:
    """The provider's JWKS; raises IdentityProviderUnavailable."""
    with _provider_call(config, "keys"):
        return client_for(config).fetch_jwk_set(force=refresh)

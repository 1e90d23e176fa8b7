"""Sign-in protection beyond django-axes' per-address lockout, and what a locked-out sign-in gets.

django-axes locks a username from one address after LOGIN_FAILURE_LIMIT failures, so an attacker
cannot lock the owner out from elsewhere. Rotating addresses would then allow unlimited guesses;
the per-username ceiling (LOGIN_USERNAME_FAILURE_LIMIT failures from all addresses within
LOGIN_LOCKOUT_MINUTES) stops that, at the price that such an attack also pauses the owner.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from issuer_portal.core.counters import count_if_reachable, current_count
from issuer_portal.core.domain_errors import error_body


def _ceiling_key(username: str) -> str:
    # Keyed hash: the cache never holds usernames.
    digest = hmac.new(
        settings.FIELD_HMAC_KEY.encode(), username.strip().lower().encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"signin-failures:{digest}"


def username_failures(username: str) -> int:
    return current_count(_ceiling_key(username))


def count_username_failure(username: str) -> None:
    """One more failure for this username, from any address (window: LOGIN_LOCKOUT_MINUTES)."""
    if username:
        # Without the cache, django-axes still locks out per username and address (database).
        count_if_reachable(_ceiling_key(username), settings.LOGIN_LOCKOUT_MINUTES * 60)


def forget_username_failures(username: str) -> None:
    cache.delete(_ceiling_key(username))


class UsernameFailureCeilingBackend:
    """Refuses every sign-in of a username that reached the ceiling; authenticates nobody.

    No ``get_user``: it never holds a session (and so is never picked as a session's backend).
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, **kwargs: Any
    ) -> None:
        if username and username_failures(username) >= settings.LOGIN_USERNAME_FAILURE_LIMIT:
            if request is not None:
                # The same answer as axes' lockout: its middleware renders lockout_response.
                request.axes_locked_out = True
            raise PermissionDenied
        return None


def lockout_response(
    request: HttpRequest, response: Any = None, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body("rate_limited", "Too many failed sign-ins. Sign-in is paused for a while."),
            status=429,
        )
    else:
        response = render(request, "registration/locked_out.html", status=429)
    return response

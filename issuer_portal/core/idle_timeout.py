"""The idle timeout without a session write on every request.

A signed-in session expires SESSION_COOKIE_AGE (15 minutes, PCI DSS 8.2.8) after it was last
saved. Saving it on every request would keep that exact, at the price of one database write per
page; instead the expiry moves forward at most once per SESSION_REFRESH_SECONDS (a minute). A
session then ends between 14 and 15 idle minutes: never later than the timeout, at most a minute
earlier.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REFRESHED_AT = "_idle_timeout_refreshed_at"


class IdleTimeoutMiddleware:
    """After SessionMiddleware in MIDDLEWARE, so it marks the session before it is saved."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response  # no session (an anonymous visitor): nothing to keep alive
        now = int(time.time())
        refreshed_at = session.get(REFRESHED_AT)
        if refreshed_at is None or now - refreshed_at >= settings.SESSION_REFRESH_SECONDS:
            session[REFRESHED_AT] = now  # marks the session modified: saved with a new expiry
        return response

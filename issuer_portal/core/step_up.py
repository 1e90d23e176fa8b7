"""Step-up: actions that change something about a cardholder's devices need a sign-in (or a
password confirmation) younger than STEP_UP_MAX_AGE_SECONDS, not merely a live session."""

from __future__ import annotations

import time

from django.conf import settings
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

# When the person last proved who they are in this session (seconds since the epoch).
AUTHENTICATED_AT = "_authenticated_at"
# How this session was signed in: absent for a password, else the identity provider's client.
SIGNED_IN_BY = "_signed_in_by"


def note_fresh_authentication(request: HttpRequest) -> None:
    """Called at sign-in and at each password confirmation."""
    if hasattr(request, "session"):
        request.session[AUTHENTICATED_AT] = time.time()


def note_authenticated_at(request: HttpRequest, at: float | None) -> None:
    """The identity provider's ``auth_time``; None (unknown) means the next action steps up."""
    if at is None:
        request.session.pop(AUTHENTICATED_AT, None)
    else:
        request.session[AUTHENTICATED_AT] = at


def authenticated_recently(request: HttpRequest) -> bool:
    at = request.session.get(AUTHENTICATED_AT) if hasattr(request, "session") else None
    return isinstance(at, int | float) and time.time() - at <= settings.STEP_UP_MAX_AGE_SECONDS


def ask_to_confirm_identity(request: HttpRequest, next_url: str) -> HttpResponseRedirect:
    """Send the person to prove it is them, and back to ``next_url`` (a path of ours)."""
    return HttpResponseRedirect(reverse("confirm-identity") + "?" + urlencode({"next": next_url}))

"""What a locked-out sign-in gets: the JSON error shape on the API, a page elsewhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from issuer_portal.api.errors import error_body


def lockout_response(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body("rate_limited", "Too many failed sign-ins. Sign-in is paused for a while."),
            status=429,
        )
    else:
        response = render(request, "registration/locked_out.html", status=429)
    return response

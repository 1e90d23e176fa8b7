"""What a locked-out sign-in gets: the JSON error shape on the API, a page elsewhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any
) -> HttpResponse:
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "code": "rate_limited",
                "message": "Too many failed sign-ins. Sign-in is paused for a while.",
                "details": None,
            },
            status=429,
        )
    else:
        response = render(request, "registration/locked_out.html", status=429)
    return response

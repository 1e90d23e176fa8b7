"""The web's one error path: a domain refusal becomes a page (or the 404 page); the 404 and
500 handlers keep the API's JSON shape under /api/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults

from issuer_portal.core.domain_errors import DomainError, ErrorCode, error_body

STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_ELIGIBLE: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.NOT_CONFIGURED: 503,
    ErrorCode.UPSTREAM_UNAVAILABLE: 502,
}


def render_refusal(request: HttpRequest, error: DomainError, *, card: Any = None) -> HttpResponse:
    """The refusal page (with the card when the view knows it), or the 404 page."""
    if error.code == ErrorCode.NOT_FOUND:
        # Someone else's card or attempt and a missing one look the same.
        return defaults.page_not_found(request, Http404())
    response = render(
        request,
        "provisioning/refused.html",
        {"card": card, "message": error.message},
        status=STATUS_OF[error.code],
    )
    if error.retry_after:
        response["Retry-After"] = str(error.retry_after)
    return response


class DomainErrorMiddleware:
    """Refusals no view turned into a page itself (e.g. a selector's not_found)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DomainError):
            return render_refusal(request, exception)
        return None


def _api_error(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse | None:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return None


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404s under /api/ keep the API's error shape (e.g. a card id that is not a UUID)."""
    return _api_error(request, 404, "not_found", "Not found.") or defaults.page_not_found(
        request, exception
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _api_error(
        request, 500, "server_error", "Something went wrong on our side."
    ) or defaults.server_error(request)

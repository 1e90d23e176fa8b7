"""One error shape for the whole API: ``{"code", "message", "details"}`` with stable codes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from issuer_portal.core.domain_errors import DomainError, ErrorCode, error_body


class ApiError(exceptions.APIException):
    """An error with a stable code, a user-safe message and optional details."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status_code: int = status.HTTP_400_BAD_REQUEST,
        details: Any = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.code = code
        self.message = message
        self.status_code = status_code
        self.details = details
        self.retry_after = retry_after


_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.PermissionDenied, "forbidden"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.ParseError, "malformed_request"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.Throttled, "rate_limited"),
]


# The API's status for each domain error code; the body keeps the code itself.
STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.NOT_ELIGIBLE: status.HTTP_403_FORBIDDEN,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.RATE_LIMITED: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.UNAUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.NOT_CONFIGURED: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.UPSTREAM_UNAVAILABLE: status.HTTP_502_BAD_GATEWAY,
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped. Unexpected exceptions still become a plain 500 (and are logged)."""
    if isinstance(exc, DomainError):
        if exc.code == ErrorCode.NOT_FOUND:
            exc = exceptions.NotFound()  # someone else's card and a missing one answer the same
        else:
            exc = ApiError(
                exc.code.value,
                exc.message,
                status_code=STATUS_OF[exc.code],
                details=exc.details,
                retry_after=exc.retry_after,
            )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.code, exc.message, exc.details)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    code = next((code for kind, code in _CODES if isinstance(exc, kind)), "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "The request is not valid.", exc.detail)
    elif code == "not_found":
        # Someone else's card and a missing one answer the same.
        response.data = error_body(code, "Not found.")
    else:
        response.data = error_body(code, str(getattr(exc, "detail", exc)))
    return response

"""The one error type of the domain: a stable machine code and a message a person may read.

The domain never speaks HTTP. Each channel turns a code into its own output in one place: the
REST API's exception handler (issuer_portal.api.errors), the web pages' error path
(issuer_portal.web.errors), the token-notification webhook and the admin's messages.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    NOT_FOUND = "not_found"  # no such thing for this caller (someone else's looks the same)
    NOT_ELIGIBLE = "not_eligible"  # the rules refuse it (blocked card, too young, ...)
    CONFLICT = "conflict"  # not in a state that allows it (retry a pending attempt, ...)
    RATE_LIMITED = "rate_limited"  # too many in a short time; see retry_after
    INVALID = "invalid"  # the input is malformed
    UNAUTHENTICATED = "unauthenticated"  # a caller we cannot verify (bad signature)
    NOT_CONFIGURED = "not_configured"  # the bank has not switched this on
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"  # Vipps or the token service failed


class DomainError(Exception):
    """A refusal the caller may see: ``code`` is stable, ``message`` is user-safe.

    ``retry_after``: seconds until trying again makes sense (rate limits). ``details``: more
    machine-readable context (never card data).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        retry_after: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The one JSON shape of an error, for every channel that answers in JSON (API, webhook)."""
    return {"code": code, "message": message, "details": details}

"""Token lifecycle notifications from the token service (server to server)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from issuer_portal.core.client_address import client_ip
from issuer_portal.core.counters import count_if_reachable, current_count
from issuer_portal.core.domain_errors import DomainError, ErrorCode, error_body
from tokens.services import receive_token_notification

# The webhook's own answer to each refusal (it has a caller of its own: the token service).
STATUS_OF = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.INVALID: 400,
    ErrorCode.NOT_CONFIGURED: 503,
}

# An address that sent this many unsigned or badly signed requests within the window gets 429
# without any work until the window ends; the token service itself signs and is never slowed.
REJECTED_LIMIT = 20
REJECTED_WINDOW_SECONDS = 60


def _rejections_key(request: HttpRequest) -> str:
    return f"notification-rejections:{client_ip(request) or 'unknown'}"


@csrf_exempt  # authenticated by the HMAC signature instead; no cookies involved
@require_POST
def token_notification(request: HttpRequest) -> JsonResponse:
    key = _rejections_key(request)
    if current_count(key) >= REJECTED_LIMIT:
        response = JsonResponse(
            error_body("rate_limited", "Too many rejected notifications."), status=429
        )
        response["Retry-After"] = str(REJECTED_WINDOW_SECONDS)
        return response
    try:
        outcome = receive_token_notification(
            body=request.body, signature=request.headers.get("X-Notification-Signature")
        )
    except DomainError as rejected:
        if rejected.code == ErrorCode.UNAUTHENTICATED:
            # Without the cache nothing is counted; the signature check still refuses.
            count_if_reachable(key, REJECTED_WINDOW_SECONDS)
        return JsonResponse(
            error_body("notification_rejected", rejected.message),
            status=STATUS_OF.get(rejected.code, 400),
        )
    return JsonResponse({"outcome": outcome.value})

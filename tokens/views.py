"""Token lifecycle notifications from the token service (server to server)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from issuer_portal.api.errors import error_body
from tokens.services import NotificationRejected, receive_token_notification


@csrf_exempt  # authenticated by the HMAC signature instead; no cookies involved
@require_POST
def token_notification(request: HttpRequest) -> JsonResponse:
    try:
        outcome = receive_token_notification(
            body=request.body, signature=request.headers.get("X-Notification-Signature")
        )
    except NotificationRejected as rejected:
        return JsonResponse(
            error_body("notification_rejected", rejected.message),
            status=rejected.status,
        )
    return JsonResponse({"outcome": outcome.value})

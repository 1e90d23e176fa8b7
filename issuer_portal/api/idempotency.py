"""``Idempotency-Key`` on the API's POSTs, as the best payment APIs do it.

Scoped to the caller. The same key and body replays the stored response (with
``Idempotent-Replayed: true``); the same key with another body is 422; a request while the first
is still running is 409. The key is claimed atomically (a unique row), responses are kept at least
IDEMPOTENCY_KEY_HOURS. Errors raised before a response exists release the key, so the client can
retry with it.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from issuer_portal.api.errors import ApiError
from issuer_portal.api.models import IdempotencyKey

HEADER = "Idempotency-Key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# A request that has been "running" longer than this crashed: its key may be claimed again.
_ABANDONED_AFTER = datetime.timedelta(minutes=2)
_KEPT_HEADERS = ("Location", "Retry-After")


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.body or b""):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _claim(request: Request, key: str, fingerprint: str) -> IdempotencyKey | Response:
    """The new row we own, or the response to give instead (replay, 409, 422)."""
    now = timezone.now()
    expiry = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    IdempotencyKey.objects.filter(user=request.user, key=key, created_at__lt=expiry).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=request.user, key=key, fingerprint=fingerprint
            )
    except IntegrityError:
        pass
    existing = IdempotencyKey.objects.filter(user=request.user, key=key).first()
    if existing is None:  # deleted meanwhile: let the client try again
        raise ApiError(
            "idempotency_conflict",
            "This Idempotency-Key is being reused right now; try again.",
            status_code=status.HTTP_409_CONFLICT,
        )
    if existing.fingerprint != fingerprint:
        raise ApiError(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
            status_code=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    if not existing.completed:
        if existing.created_at < now - _ABANDONED_AFTER:
            taken = IdempotencyKey.objects.filter(pk=existing.pk, completed=False).update(
                created_at=now
            )
            if taken:
                return existing
        raise ApiError(
            "idempotency_request_in_progress",
            "A request with this Idempotency-Key is still being processed.",
            status_code=status.HTTP_409_CONFLICT,
        )
    response = Response(existing.response_body, status=existing.response_status)
    for name, value in existing.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate an APIView's ``post`` to honour the Idempotency-Key header."""

    @functools.wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            raise ApiError(
                "validation_error",
                "Idempotency-Key must be 1-255 visible ASCII characters.",
                details={HEADER: ["invalid"]},
            )
        claimed = _claim(request, key, _fingerprint(request))
        if isinstance(claimed, Response):
            return claimed
        try:
            response = view_method(self, request, *args, **kwargs)
        except BaseException:
            claimed.delete()
            raise
        if response.status_code >= 500:
            claimed.delete()
            return response
        claimed.completed = True
        claimed.response_status = response.status_code
        claimed.response_body = response.data
        claimed.response_headers = {h: response[h] for h in _KEPT_HEADERS if h in response}
        claimed.save(
            update_fields=["completed", "response_status", "response_body", "response_headers"]
        )
        return response

    return wrapper

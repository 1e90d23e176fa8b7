"""Shared plumbing of the HTTP token-service adapters (MDES-style and VTS-style)."""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings

from issuer_portal.core.outbound import OutboundError, TlsClientConfig, post_json
from tokens.adapters.base import NetworkToken, TokenServiceAdapter, TokenServiceError
from tokens.models import TokenStatus, TokenType

logger = logging.getLogger(__name__)


class HttpTokenServiceAdapter(TokenServiceAdapter):
    """Posts JSON to ``{<PREFIX>_BASE_URL}{path}`` through the outbound choke point.

    Settings, by prefix (MDES or VTS): ``_BASE_URL``, ``_CA_BUNDLE``, ``_CLIENT_CERT``,
    ``_CLIENT_KEY``; timeouts from TOKEN_SERVICE_CONNECT_TIMEOUT / TOKEN_SERVICE_READ_TIMEOUT.
    """

    settings_prefix = ""

    def _setting(self, suffix: str) -> str | None:
        return getattr(settings, f"{self.settings_prefix}_{suffix}", None) or None

    def _tls_config(self) -> TlsClientConfig:
        return TlsClientConfig(
            ca_bundle=self._setting("CA_BUNDLE"),
            client_cert=self._setting("CLIENT_CERT"),
            client_key=self._setting("CLIENT_KEY"),
            connect_timeout=settings.TOKEN_SERVICE_CONNECT_TIMEOUT,
            read_timeout=settings.TOKEN_SERVICE_READ_TIMEOUT,
            # Every lookup of a page may be in flight at once.
            pool_size=settings.TOKEN_LOOKUP_CONCURRENCY,
        )

    def _post(
        self,
        path: str,
        payload: dict[str, Any],
        *,
        accept: Callable[[OutboundError], Any] | None = None,
    ) -> Any:
        """POST and return the decoded JSON body; raises TokenServiceError. ``accept`` may turn
        an error answer into a body (e.g. "already in that state"), or return None to refuse."""
        base_url = self._setting("BASE_URL")
        if not base_url:
            raise TokenServiceError(f"{self.settings_prefix}_BASE_URL is not set", permanent=True)
        try:
            response = post_json(
                base_url.rstrip("/") + path,
                payload,
                config=self._tls_config(),
                headers={"X-Request-ID": str(uuid.uuid4())},
            )
            return response.json()
        except OutboundError as error:
            accepted = accept(error) if accept is not None else None
            if accepted is not None:
                return accepted
            if error.status == 404:
                raise TokenServiceError(
                    "card or token unknown to the token service", permanent=True
                ) from None
            logger.warning("%s call %s failed: %s", self.name, path, error.message)
            raise TokenServiceError(
                f"{self.name}: {error.message}", permanent=error.permanent
            ) from None


def parse_timestamp(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def as_list(value: Any) -> list[Any]:
    """XML-to-JSON style APIs send one item as an object and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def checked_token(
    adapter: str,
    *,
    reference: Any,
    trid: Any,
    status: str,
    statuses: dict[str, TokenStatus],
    token_type: TokenType,
    device: Any,
    updated_at: Any,
) -> NetworkToken:
    """Validate one token of an answer; an unknown status never counts as an active token."""
    if not isinstance(reference, str) or not reference or not isinstance(trid, str | int):
        raise malformed(adapter, "token without reference or requestor")
    if status not in statuses:
        logger.warning("%s: unknown token status %r treated as inactive", adapter, status)
    device = device if isinstance(device, dict) else {}
    return NetworkToken(
        token_reference=reference,
        trid=str(trid),
        status=statuses.get(status, TokenStatus.INACTIVE),
        token_type=token_type,
        device_name=str(device.get("DeviceName") or device.get("deviceName") or "")[:100],
        device_id=str(
            device.get("DeviceId") or device.get("deviceID") or device.get("deviceId") or ""
        )[:64],
        updated_at=parse_timestamp(updated_at),
    )


def malformed(adapter: str, what: str) -> TokenServiceError:
    logger.warning("%s answered with a malformed body: %s", adapter, what)
    return TokenServiceError(f"{adapter}: malformed response ({what})", permanent=True)


def json_body(error: OutboundError) -> Any:
    """The JSON body of an error answer, or None."""
    try:
        return json.loads(error.body) if error.body else None
    except ValueError:
        return None

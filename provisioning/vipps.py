"""The Vipps MobilePay provisioning client: the only module that talks to Vipps.

Mutual TLS through the outbound choke point (VIPPS_CLIENT_CERT / VIPPS_CLIENT_KEY, server verified
against VIPPS_CA_BUNDLE, TLS 1.2+), one pooled connection set per process. Every outcome becomes
a VippsSuccess or a VippsError carrying the CallRecord of the HTTP call.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from issuer_portal.core.observability import mask_card_data
from issuer_portal.core.outbound import OutboundError, TlsClientConfig, post_json
from issuer_portal.core.sensitive import SensitiveValue
from provisioning.sandbox.material import sandbox_material

# Assumption (spec, open point 2): the success body carries the link in this field.
UNIVERSAL_LINK_FIELD = "universalLink"
SANDBOX_PATH = "/provisioning/v1/cards"
COUNTRY_CODES = ("NO", "DK", "FI", "SE")


@dataclass(frozen=True)
class ProvisioningRequest:
    """The body of "Initiate card provisioning", field by field as the spec lists them."""

    encrypted_card_data: SensitiveValue
    country_code: str
    nin: SensitiveValue
    issuer_name: str
    last4: str
    return_url: str | None = None
    suggested_nickname: str | None = None
    app_switch: bool = True  # the only mode Vipps supports today

    def problems(self) -> list[str]:
        """What is wrong with the request (field names and rules, never values)."""
        found = []
        if self.encrypted_card_data.reveal().count(".") != 4:
            found.append("encryptedCardData must be a compact JWE")
        if self.country_code not in COUNTRY_CODES:
            found.append("countryCode must be one of " + ", ".join(COUNTRY_CODES))
        if not self.nin:
            found.append("nin is required")
        if not 1 <= len(self.issuer_name) <= 255:
            found.append("issuerName must have 1-255 characters")
        if not re.fullmatch(r"\d{4}", self.last4):
            found.append("last4 must be four digits")
        if self.return_url is not None and urlsplit(self.return_url).scheme not in (
            "https",
            "http",
        ):
            found.append("returnUrl must be an absolute URI")
        if self.suggested_nickname is not None and not 5 <= len(self.suggested_nickname) <= 25:
            found.append("suggestedNickname must have 5-25 characters")
        if self.app_switch is not True:
            found.append("appSwitch must be true")
        return found

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "encryptedCardData": self.encrypted_card_data.reveal(),
            "countryCode": self.country_code,
            "nin": self.nin.reveal(),
            "returnUrl": self.return_url,
            "issuerName": self.issuer_name,
            "appSwitch": self.app_switch,
            "last4": self.last4,
        }
        if self.suggested_nickname is not None:
            body["suggestedNickname"] = self.suggested_nickname
        return body


def suggested_nickname(nickname: str) -> str | None:
    """The card's nickname when Vipps accepts it (5-25 characters); otherwise none is sent."""
    nickname = (nickname or "").strip()
    return nickname if 5 <= len(nickname) <= 25 else None


@dataclass(frozen=True)
class CallRecord:
    trace_id: uuid.UUID
    status_code: int | None
    error_code: str
    duration_ms: float | None
    outcome: str  # success, transient, permanent
    # What Vipps said was wrong (REQUEST_VALIDATION_ERROR): field names and rules, never values.
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class VippsSuccess:
    universal_link: str
    call: CallRecord


class VippsError(Exception):
    """Vipps did not give us a usable link.

    ``code``: REQUEST_VALIDATION_ERROR, INTERNAL_SERVER_ERROR, TIMEOUT, CONNECTION_FAILED, TLS,
    HTTP_<status>, MALFORMED_RESPONSE, LINK_NOT_ALLOWED, INVALID_REQUEST or NO_JWE_KEY.
    ``permanent``: retrying cannot help. ``configuration``: bank staff must fix our setup.
    ``call``: the HTTP call's record, when a call was made.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        permanent: bool,
        configuration: bool = False,
        call: CallRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.configuration = configuration
        self.call = call


def endpoint() -> tuple[str, TlsClientConfig]:
    """Where to send requests and with which TLS material (the sandbox's when in sandbox mode)."""
    timeouts = {
        "connect_timeout": settings.VIPPS_CONNECT_TIMEOUT,
        "read_timeout": settings.VIPPS_READ_TIMEOUT,
        "pool_size": settings.OUTBOUND_POOL_SIZE,
    }
    if settings.VIPPS_SANDBOX:
        material = sandbox_material()
        return (
            f"https://127.0.0.1:{settings.VIPPS_SANDBOX_PORT}{SANDBOX_PATH}",
            TlsClientConfig(
                ca_bundle=str(material.ca_cert),
                client_cert=str(material.client_cert),
                client_key=str(material.client_key),
                **timeouts,
            ),
        )
    return settings.VIPPS_PROVISIONING_URL, TlsClientConfig(
        ca_bundle=settings.VIPPS_CA_BUNDLE or None,
        client_cert=settings.VIPPS_CLIENT_CERT or None,
        client_key=settings.VIPPS_CLIENT_KEY or None,
        **timeouts,
    )


def is_allowed_universal_link(url: str) -> bool:
    """https on an allow-listed host; in sandbox mode, also our own (sandbox) pages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname in settings.VIPPS_UNIVERSAL_LINK_HOSTS:
        return True
    if settings.VIPPS_SANDBOX:
        # Parsed, not prefix-matched: our own origin and the sandbox's pages only.
        own = urlsplit(settings.PUBLIC_BASE_URL)
        return (
            (parts.scheme, parts.netloc) == (own.scheme, own.netloc)
            and parts.username is None
            and parts.path.startswith("/sandbox/vipps/")
        )
    return False


def _error_code(body: bytes) -> str | None:
    """The error code of an error body, read defensively (HTML, empty and odd bodies happen)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict):
        for key in ("code", "errorCode", "error"):
            value = data.get(key)
            if isinstance(value, str) and re.fullmatch(r"[A-Z_]{1,64}", value):
                return value
    return None


_QUOTED = re.compile(r"(['\"`]).*?\1")
_DETAIL_NAME_KEYS = ("field", "name", "path", "pointer", "parameter")
_DETAIL_RULE_KEYS = ("message", "rule", "reason", "description", "code")
MAX_DETAILS = 20


def _error_details(body: bytes) -> tuple[str, ...]:
    """The per-field problems of an error body, read defensively and stripped of values.

    Strings and {field, message}-like objects are kept; keys that carry values (``value``,
    ``rejectedValue``...) are never read; quoted text is cut out and anything that still looks
    like a card or identity number is masked. At most MAX_DETAILS of 200 characters each.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ()
    if not isinstance(data, dict):
        return ()
    items = next(
        (
            data[key]
            for key in ("details", "errors", "fieldErrors")
            if isinstance(data.get(key), list)
        ),
        [],
    )
    found = []
    for item in items[:MAX_DETAILS]:
        if isinstance(item, dict):
            name = next((str(item[k]) for k in _DETAIL_NAME_KEYS if item.get(k)), "")
            rule = next((str(item[k]) for k in _DETAIL_RULE_KEYS if item.get(k)), "")
            text = f"{name}: {rule}" if name and rule else name or rule
        elif isinstance(item, str):
            text = item
        else:
            continue
        text = mask_card_data(_QUOTED.sub("…", text)).strip()[:200]
        if text:
            found.append(text)
    return tuple(found)


def initiate_provisioning(
    request: ProvisioningRequest,
    *,
    correlation_id: uuid.UUID,
    read_timeout: float | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> VippsSuccess:
    """POST the request to Vipps once. Returns VippsSuccess; raises VippsError. ``meanwhile``:
    work to do once the request is sent, while Vipps answers (core.outbound.post_json).

    Transient (retry later): 5xx, INTERNAL_SERVER_ERROR, 429, timeouts, connection failures.
    Permanent: REQUEST_VALIDATION_ERROR and other 4xx (401/403 also flag configuration), TLS
    failures, malformed success bodies, and links that are not https on an allowed host.
    """
    problems = request.problems()
    if problems:
        raise VippsError("; ".join(problems), code="INVALID_REQUEST", permanent=True)
    url, tls = endpoint()
    trace_id = uuid.uuid4()
    headers = {
        "X-Request-ID": str(correlation_id),
        "X-Trace-ID": str(trace_id),
        "Vipps-System-Name": settings.VIPPS_SYSTEM_NAME,
        "Vipps-System-Version": settings.VIPPS_SYSTEM_VERSION,
    }
    timeout = (tls.connect_timeout, read_timeout or tls.read_timeout)
    try:
        response = post_json(
            url, request.body(), config=tls, headers=headers, timeout=timeout, meanwhile=meanwhile
        )
    except OutboundError as error:
        if error.status is None:
            code = (
                "TLS"
                if error.message.startswith("TLS")
                else "TIMEOUT"
                if "timed out" in error.message
                else "CONNECTION_FAILED"
            )
        else:
            code = _error_code(error.body) or f"HTTP_{error.status}"
        permanent = error.permanent and code != "INTERNAL_SERVER_ERROR"
        if code == "REQUEST_VALIDATION_ERROR":
            permanent = True
        call = CallRecord(
            trace_id,
            error.status,
            code,
            error.duration_ms,
            "permanent" if permanent else "transient",
            details=_error_details(error.body) if error.status is not None else (),
        )
        raise VippsError(
            f"Vipps: {error.message}",
            code=code,
            permanent=permanent,
            configuration=error.configuration,
            call=call,
        ) from None

    def failed(code: str, message: str) -> VippsError:
        call = CallRecord(trace_id, response.status, code, response.duration_ms, "permanent")
        return VippsError(message, code=code, permanent=True, call=call)

    try:
        data = response.json()
    except OutboundError:
        raise failed("MALFORMED_RESPONSE", "Vipps answered 2xx without JSON") from None
    link = data.get(UNIVERSAL_LINK_FIELD) if isinstance(data, dict) else None
    if not isinstance(link, str) or not link:
        raise failed("MALFORMED_RESPONSE", f"Vipps answered without {UNIVERSAL_LINK_FIELD}")
    if len(link) > 2000 or not is_allowed_universal_link(link):
        raise failed("LINK_NOT_ALLOWED", "Vipps' universal link is not https on an allowed host")
    return VippsSuccess(
        universal_link=link,
        call=CallRecord(trace_id, response.status, "", response.duration_ms, "success"),
    )

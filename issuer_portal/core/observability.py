"""Structured logs: request and correlation ids on every record, JSON output, and a filter that
masks anything looking like a card or identity number as the last line of defence."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.http import HttpRequest, HttpResponse
from stdnum import luhn
from stdnum.dk import cpr
from stdnum.fi import hetu
from stdnum.no import fodselsnummer
from stdnum.se import personnummer

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Takes a sane incoming X-Request-ID or makes one; logs and the response carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = value
        return response


@contextmanager
def correlation(value: str) -> Iterator[None]:
    """Log records inside carry this provisioning correlation id (the attempt's X-Request-ID)."""
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.correlation_id = correlation_id.get()
        return True


# Digit runs that could be a PAN: 13-19 digits, optionally grouped by any separator people and
# URLs use (space, dash, dot, underscore, plus, slash, comma, en dash, %20, %2D).
_PAN_SEPARATOR = r"(?:[ \-._+/,\u2013]|%20|%2[dD])"
_PAN_CANDIDATE = re.compile(rf"(?<![\d])\d(?:{_PAN_SEPARATOR}?\d){{12,18}}(?![\d])")
_NOT_A_DIGIT = re.compile(r"%2[0dD]|\D")
# Nordic identity numbers: NO 11 digits, DK 10 (or DDMMYY-XXXX), SE 10/12 (with - or +), FI HETU.
_NIN_CANDIDATE = re.compile(
    r"(?<![\dA-Za-z])(?:\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]|\d{8}[-+]?\d{4}|\d{6}[-+]?\d{4,5})(?![\dA-Za-z])"
)


def _looks_like_nin(text: str) -> bool:
    return any(
        check(text)
        for check in (fodselsnummer.is_valid, cpr.is_valid, hetu.is_valid, personnummer.is_valid)
    )


# Our identifiers (cards, attempts, correlations) are UUIDs; the digits of their last groups can
# pass for a PAN or an identity number (one in a few thousand), so UUIDs are left whole. Only
# RFC 4122 UUIDs: their fourth group starts with 8, 9, a or b, which no Visa or Mastercard
# number does.
_UUID = re.compile(
    r"((?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}"
    r"-[0-9a-fA-F]{12}(?![0-9A-Za-z]))"
)

# Sign-in secrets in URLs (the identity provider's callback, in an access log line): the value of
# each such query parameter is dropped.
_SIGN_IN_SECRET = re.compile(
    r"(?<=[?&;])(code|state|id_token|access_token|refresh_token|logout_token|code_verifier|"
    r"session_state)=[^&\s\"'#]+"
)


def mask_card_data(text: str) -> str:
    """Replace Luhn-valid 13-19 digit runs with [PAN], valid Nordic NINs with [NIN], and
    sign-in codes and tokens in query strings with [redacted]."""
    text = _SIGN_IN_SECRET.sub(lambda match: f"{match.group(1)}=[redacted]", text)

    def pan(match: re.Match[str]) -> str:
        digits = _NOT_A_DIGIT.sub("", match.group())
        return "[PAN]" if 13 <= len(digits) <= 19 and luhn.is_valid(digits) else match.group()

    def nin(match: re.Match[str]) -> str:
        return "[NIN]" if _looks_like_nin(match.group()) else match.group()

    def outside_uuids(part: str) -> str:
        return _NIN_CANDIDATE.sub(nin, _PAN_CANDIDATE.sub(pan, part))

    # re.split with a group: the UUIDs are the odd pieces.
    pieces = _UUID.split(text)
    return "".join(piece if i % 2 else outside_uuids(piece) for i, piece in enumerate(pieces))


class CardDataMaskingFilter(logging.Filter):
    """Masks PANs and NINs in the message, its arguments and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask_card_data(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_card_data(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_card_data(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
            "correlation_id": getattr(record, "correlation_id", "") or None,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def log_output_config(log_format: str) -> dict:
    """Filters, formatters and the console handler every process logs through (web, workers,
    beat, gunicorn's own logs): JSON or plain, request ids, PAN/NIN masking."""
    return {
        "filters": {
            "context": {"()": "issuer_portal.core.observability.ContextFilter"},
            # Last line of defence: whatever slips into a log, a PAN or NIN leaves masked.
            "mask_card_data": {"()": "issuer_portal.core.observability.CardDataMaskingFilter"},
        },
        "formatters": {
            "json": {"()": "issuer_portal.core.observability.JsonFormatter"},
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(correlation_id)s] "
                "%(message)s"
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "mask_card_data"],
            }
        },
    }

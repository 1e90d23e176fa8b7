"""Which outbound URLs we may call: parsed, never prefix-matched.

https anywhere; plain http only to the loopback host itself (local stand-ins in tests and the
demo), named exactly: ``127.0.0.1``, ``::1`` or ``localhost``. ``http://127.0.0.1.evil.example/``
and ``http://127.0.0.1@evil.example/`` are other hosts and are refused. No user information in
any URL: it would be sent as credentials and logged by proxies.

Dependency-free, so settings can use it at startup and the outbound choke point on every call.
"""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def outbound_url_problem(url: str) -> str | None:
    """Why ``url`` may not be called, or None when it may."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https URL"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not contain user information (user@host)"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "must use https (plain http only to 127.0.0.1, ::1 or localhost)"
    return None


def is_allowed_outbound_url(url: str) -> bool:
    return outbound_url_problem(url) is None

"""The one place that decides a request's client address: lockouts, audit and rate limits use it.

Behind TRUSTED_PROXY_COUNT reverse proxies, each proxy appends the address it saw to
X-Forwarded-For, so the right-most entry the first trusted proxy wrote is the client: entry
``-TRUSTED_PROXY_COUNT``. Entries left of it come from the client and can be forged. Without
proxies (0), X-Forwarded-For is ignored entirely.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address as far as our own proxies vouch for it."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            found = _address(hops[-proxies])
            if found:
                return found
    return _address(request.META.get("REMOTE_ADDR", ""))

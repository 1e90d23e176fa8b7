"""Token-service adapters: a registry of short key -> dotted path, imported lazily.

TOKEN_SERVICE_ADAPTER picks the adapter (a key below or a dotted path); TOKEN_SERVICE_ADAPTER_VISA
and TOKEN_SERVICE_ADAPTER_MASTERCARD override it per card network.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tokens.adapters.base import NetworkToken, TokenServiceAdapter, TokenServiceError

ADAPTERS = {
    "simulator": "tokens.adapters.simulator.SimulatorAdapter",
    "mdes": "tokens.adapters.mdes.MdesAdapter",
    "vts": "tokens.adapters.vts.VtsAdapter",
}

_instances: dict[str, TokenServiceAdapter] = {}
_lock = threading.Lock()


def _dotted_path(key_or_path: str) -> str:
    if key_or_path in ADAPTERS:
        return ADAPTERS[key_or_path]
    if "." in key_or_path:
        return key_or_path
    raise ImproperlyConfigured(
        f"Unknown token service adapter {key_or_path!r}: use one of "
        f"{', '.join(sorted(ADAPTERS))} or a dotted path to a TokenServiceAdapter subclass."
    )


def _load(key_or_path: str) -> TokenServiceAdapter:
    path = _dotted_path(key_or_path)
    try:
        adapter_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"Token service adapter {path!r} cannot be imported: {error}"
        ) from None
    if not (isinstance(adapter_class, type) and issubclass(adapter_class, TokenServiceAdapter)):
        raise ImproperlyConfigured(f"{path!r} is not a TokenServiceAdapter subclass.")
    return adapter_class()


def adapter_key_for_network(network: str) -> str:
    return settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK.get(network, settings.TOKEN_SERVICE_ADAPTER)


def adapter_for_network(network: str) -> TokenServiceAdapter:
    """The adapter instance serving cards of ``network`` (one shared instance per adapter)."""
    key = adapter_key_for_network(network)
    adapter = _instances.get(key)
    if adapter is None:
        with _lock:
            adapter = _instances.get(key) or _load(key)
            _instances[key] = adapter
    return adapter


def validate_configuration() -> None:
    """Resolve every configured adapter; raises ImproperlyConfigured at startup if one is bad."""
    for key in {
        settings.TOKEN_SERVICE_ADAPTER,
        *settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK.values(),
    }:
        _load(key)


__all__ = [
    "ADAPTERS",
    "NetworkToken",
    "TokenServiceAdapter",
    "TokenServiceError",
    "adapter_for_network",
    "validate_configuration",
]

"""Encryption at rest and keyed lookup hashes for card data.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under FIELD_ENCRYPTION_KEYS: the
first key encrypts, every key decrypts, so keys rotate without downtime. Lookups and duplicate
detection use HMAC-SHA256 under FIELD_HMAC_KEY: a plain hash of a PAN is brute-forceable.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key (never carries the value)."""


@lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current_cipher() -> MultiFernet:
    return _cipher(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the current (first) key; returns an ASCII token."""
    return _current_cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a token made by :func:`encrypt` with any configured key.

    Raises DecryptionError when no configured key opens it (for example, a key was dropped
    before ``reencrypt_fields`` ran).
    """
    try:
        return _current_cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored value could not be decrypted with any key in FIELD_ENCRYPTION_KEYS."
        ) from None


def is_encrypted_with_current_key(token: str) -> bool:
    """True when ``token`` opens with the first (current) key alone."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under FIELD_HMAC_KEY, domain-separated by ``purpose``."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(settings.FIELD_HMAC_KEY.encode(), message, hashlib.sha256).hexdigest()

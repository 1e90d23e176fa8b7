"""Reading Vipps' JWE public keys (PEM or JWK) and refusing the ones the contract does not allow.

Pure: no models, no settings. Parsed keys are cached by their text, so PEM is not re-parsed on
every request; a key edited in admin has new text and is parsed once again.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk

# The contract: RSA-OAEP-256 to a 4096-bit key from Vipps.
MINIMUM_RSA_BITS = 4096


class JweKeyError(Exception):
    """No usable Vipps key: missing, not RSA, too short, expired, or not a public key."""


@lru_cache(maxsize=32)
def parse_public_key(text: str) -> jwk.JWK:
    """Parse a PEM or JWK (JSON) RSA public key; raises JweKeyError saying what is wrong."""
    text = (text or "").strip()
    if not text:
        raise JweKeyError("The key is empty.")
    try:
        if text.startswith("{"):
            key = jwk.JWK(**json.loads(text))
        else:
            key = jwk.JWK.from_pem(text.encode())
    except Exception:  # noqa: BLE001 - jwcrypto raises assorted types for bad input
        raise JweKeyError(
            "The key cannot be read: paste a PEM public key (BEGIN PUBLIC KEY) or a JWK."
        ) from None
    if key.has_private:
        raise JweKeyError("This is a private key: enter Vipps' public key only.")
    if key.get("kty") != "RSA":
        raise JweKeyError(f"The key must be RSA (RSA-OAEP-256), not {key.get('kty')}.")
    public = key.get_op_key("encrypt")
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size < MINIMUM_RSA_BITS:
        raise JweKeyError(
            f"The RSA key has {public.key_size} bits; at least {MINIMUM_RSA_BITS} are required."
        )
    return key

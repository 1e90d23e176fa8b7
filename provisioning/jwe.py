"""The encrypted card data of a provisioning request: a compact JWE to Vipps' public key.

Protected header exactly ``alg`` RSA-OAEP-256, ``enc`` from VIPPS_JWE_ENC (A128GCM or A256GCM),
``kid``. The spec's own example and prose disagree on ``enc``; that is why it is a setting.
"""

from __future__ import annotations

import json

from django.conf import settings
from jwcrypto import jwe

from issuer_portal.core.sensitive import SensitiveValue
from provisioning.keys import JweKey

ALGORITHM = "RSA-OAEP-256"
ALLOWED_ENC = ("A128GCM", "A256GCM")


def card_data_plaintext(*, pan: SensitiveValue, expiry: str) -> bytes:
    """The one place the JWE payload schema lives: ``{"pan": ..., "expiry": "YYYY-MM"}``."""
    return json.dumps({"pan": pan.reveal(), "expiry": expiry}, separators=(",", ":")).encode()


def encrypt_card_data(*, pan: SensitiveValue, expiry: str, key: JweKey) -> SensitiveValue:
    """The compact JWE (wrapped, so it cannot leak into logs or reprs)."""
    enc = settings.VIPPS_JWE_ENC
    if enc not in ALLOWED_ENC:
        raise ValueError("VIPPS_JWE_ENC must be A128GCM or A256GCM")
    header = {"alg": ALGORITHM, "enc": enc, "kid": key.kid}
    token = jwe.JWE(
        card_data_plaintext(pan=pan, expiry=expiry),
        protected=json.dumps(header, separators=(",", ":")),
    )
    token.add_recipient(key.key)
    return SensitiveValue(token.serialize(compact=True))

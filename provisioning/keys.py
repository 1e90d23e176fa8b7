"""Vipps' JWE public keys: from admin-managed records by ``kid``, else the settings fallback.

Parsed keys are cached by their text, so PEM is not re-parsed on every request; a key edited in
admin has new text and is parsed once again.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from jwcrypto import jwk

from provisioning.jwe_key_parsing import MINIMUM_RSA_BITS, JweKeyError, parse_public_key
from provisioning.models import VippsJweKey
from provisioning.sandbox.material import sandbox_material

__all__ = ["MINIMUM_RSA_BITS", "JweKey", "JweKeyError", "current_jwe_key", "parse_public_key"]


@dataclass(frozen=True)
class JweKey:
    kid: str
    key: jwk.JWK

    @property
    def bits(self) -> int:
        return self.key.get_op_key("encrypt").key_size


@lru_cache(maxsize=8)
def _key_file(path: str, mtime: float) -> str:
    return Path(path).read_text()


def _file_key(path: str, kid: str) -> JweKey:
    try:
        text = _key_file(path, Path(path).stat().st_mtime)
    except OSError as error:
        raise JweKeyError(f"Cannot read the Vipps JWE key file: {error.strerror}.") from None
    return JweKey(kid=kid, key=parse_public_key(text))


def current_jwe_key(now: datetime.datetime | None = None) -> JweKey:
    """The key to encrypt with now: the newest active, valid admin key, else the settings one.

    Raises JweKeyError when there is none (the message says why, e.g. all keys expired).
    """
    now = now or timezone.now()
    row = (
        VippsJweKey.objects.filter(active=True, valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("-valid_from")
        .first()
    )
    if row is not None:
        return JweKey(kid=row.kid, key=parse_public_key(row.public_key))
    if settings.VIPPS_JWE_PUBLIC_KEY:
        if not settings.VIPPS_JWE_KID:
            raise JweKeyError("VIPPS_JWE_KID must name the key in VIPPS_JWE_PUBLIC_KEY.")
        return _file_key(settings.VIPPS_JWE_PUBLIC_KEY, settings.VIPPS_JWE_KID)
    if settings.VIPPS_SANDBOX:
        material = sandbox_material()
        return _file_key(str(material.jwe_public_key), material.jwe_kid)
    if VippsJweKey.objects.filter(active=True, valid_until__lte=now).exists():
        raise JweKeyError("Every Vipps JWE key has expired: add the new key Vipps published.")
    raise JweKeyError("No Vipps JWE key: add one in admin or set VIPPS_JWE_PUBLIC_KEY.")

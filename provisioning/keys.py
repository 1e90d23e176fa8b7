"""Vipps' JWE public keys: from admin-managed records by ``kid``, else the settings fallback.

Parsed keys are cached by their text, so PEM is not re-parsed on every request; a key edited in
admin has new text and is parsed once again. The active records themselves are read at most once
every KEY_RECORDS_SECONDS per process (they change a few times a year, and every "Add" reads
them): a key saved or deleted is seen at once by the process that saved it, and by every other
process within that time.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from jwcrypto import jwk

from issuer_portal.core.process_memo import ProcessMemo
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


KEY_RECORDS_SECONDS = 30.0


@dataclass(frozen=True)
class _KeyRecord:
    kid: str
    public_key: str
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None

    def valid_at(self, now: datetime.datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or self.valid_until > now)


def _active_key_records_from_database() -> tuple[_KeyRecord, ...]:
    return tuple(
        _KeyRecord(*values)
        for values in VippsJweKey.objects.filter(active=True).values_list(
            "kid", "public_key", "valid_from", "valid_until"
        )
    )


_active_key_records = ProcessMemo(
    _active_key_records_from_database, seconds=lambda: KEY_RECORDS_SECONDS
)


def forget_key_records() -> None:
    """Read the admin keys from the database on next use."""
    _active_key_records.forget()


def current_jwe_key(now: datetime.datetime | None = None) -> JweKey:
    """The key to encrypt with now: the newest active, valid admin key, else the settings one.

    Raises JweKeyError when there is none (the message says why, e.g. all keys expired).
    """
    now = now or timezone.now()
    records = _active_key_records.get()
    valid = [record for record in records if record.valid_at(now)]
    if valid:
        newest = max(valid, key=lambda record: record.valid_from)
        return JweKey(kid=newest.kid, key=parse_public_key(newest.public_key))
    if settings.VIPPS_JWE_PUBLIC_KEY:
        if not settings.VIPPS_JWE_KID:
            raise JweKeyError("VIPPS_JWE_KID must name the key in VIPPS_JWE_PUBLIC_KEY.")
        return _file_key(settings.VIPPS_JWE_PUBLIC_KEY, settings.VIPPS_JWE_KID)
    if settings.VIPPS_SANDBOX:
        material = sandbox_material()
        return _file_key(str(material.jwe_public_key), material.jwe_kid)
    if any(record.valid_until is not None and record.valid_until <= now for record in records):
        raise JweKeyError("Every Vipps JWE key has expired: add the new key Vipps published.")
    raise JweKeyError("No Vipps JWE key: add one in admin or set VIPPS_JWE_PUBLIC_KEY.")

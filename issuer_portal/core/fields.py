"""Model field that stores a value encrypted at rest and hands it out as a SensitiveValue."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from issuer_portal.core import crypto
from issuer_portal.core.sensitive import SensitiveValue


class _SensitiveAttribute(DeferredAttribute):
    """Wraps whatever is assigned in a SensitiveValue, so instances never hold a bare string."""

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, SensitiveValue):
            value = SensitiveValue(value)
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Encrypted with issuer_portal.core.crypto on the way in, decrypted on the way out.

    The column holds only ciphertext. Lookups other than ``isnull`` are refused: ciphertext is
    randomised, so equality can never match; search with a keyed-hash column instead.
    """

    descriptor_class = _SensitiveAttribute

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return SensitiveValue(crypto.decrypt(value))

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, SensitiveValue):
            return value
        return SensitiveValue(value)

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, SensitiveValue):
            value = value.reveal()
        return crypto.encrypt(str(value))

    def get_lookup(self, lookup_name: str):
        if lookup_name != "isnull":
            raise TypeError(f"{self.name} is encrypted; filter on its keyed hash instead.")
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata, admin history) must not write the clear value.
        return "[redacted]"

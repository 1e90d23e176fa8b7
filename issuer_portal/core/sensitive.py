"""A wrapper that keeps card data out of logs, reprs, templates and exception messages."""

from __future__ import annotations

from collections.abc import Callable


class SensitiveValue:
    """Holds a PAN or national identity number; only :meth:`reveal` gives the value back.

    ``str()``, ``repr()`` and ``format()`` all show a mask, so an accidental f-string, log call,
    template variable or traceback never prints the value.
    """

    __slots__ = ("_decrypt", "_value")

    def __init__(self, value: str) -> None:
        if isinstance(value, SensitiveValue):
            value = value.reveal()
        self._value: str | None = str(value)
        self._decrypt: Callable[[], str] | None = None

    @classmethod
    def decrypted_when_revealed(cls, decrypt: Callable[[], str]) -> SensitiveValue:
        """A value still encrypted: ``decrypt`` runs the first time it is revealed (a list of
        cards never pays for decrypting numbers it does not show)."""
        value = cls.__new__(cls)
        value._value, value._decrypt = None, decrypt
        return value

    def reveal(self) -> str:
        """The clear value. Call it only where the value must leave in clear or be hashed."""
        if self._value is None:
            self._value = self._decrypt()
            self._decrypt = None
        return self._value

    def __str__(self) -> str:
        return "[redacted]"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return "[redacted]"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SensitiveValue):
            return self.reveal() == other.reveal()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.reveal())

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __reduce__(self) -> tuple:
        # Pickling would put the value into caches or brokers.
        raise TypeError("SensitiveValue cannot be pickled")

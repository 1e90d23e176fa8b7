"""A wrapper that keeps card data out of logs, reprs, templates and exception messages."""

from __future__ import annotations


class SensitiveValue:
    """Holds a PAN or national identity number; only :meth:`reveal` gives the value back.

    ``str()``, ``repr()`` and ``format()`` all show a mask, so an accidental f-string, log call,
    template variable or traceback never prints the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, SensitiveValue):
            value = value.reveal()
        self._value = str(value)

    def reveal(self) -> str:
        """The clear value. Call it only where the value must leave in clear or be hashed."""
        return self._value

    def __str__(self) -> str:
        return "[redacted]"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return "[redacted]"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SensitiveValue):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple:
        # Pickling would put the value into caches or brokers.
        raise TypeError("SensitiveValue cannot be pickled")

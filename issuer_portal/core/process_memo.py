"""A value a process computes at most once a while and shares between its threads.

For what every request needs, changes seldom and costs a round trip to compute (the readiness
report, Vipps' JWE key records); not for what must be the same in every process at once (that is
the shared cache's job).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ProcessMemo(Generic[T]):
    """``compute()``'s result, computed again once ``seconds()`` have passed (read at each use,
    so a setting changed at run time applies) or after ``forget()``. One thread computes while
    the others wait for its result: a burst of requests costs one computation."""

    def __init__(self, compute: Callable[[], T], seconds: Callable[[], float]) -> None:
        self._compute = compute
        self._seconds = seconds
        self._lock = threading.Lock()
        self._kept: tuple[float, T] | None = None

    def get(self) -> T:
        with self._lock:
            now = time.monotonic()
            if self._kept is None or now - self._kept[0] >= self._seconds():
                self._kept = (now, self._compute())
            return self._kept[1]

    def forget(self) -> None:
        with self._lock:
            self._kept = None

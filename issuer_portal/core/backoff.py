"""The one backoff of retried calls (Vipps, the token service): exponential, jittered, capped."""

from __future__ import annotations

import random

CAP_SECONDS = 60.0


def backoff_delay(tries: int, base: float, cap: float = CAP_SECONDS) -> float:
    """Seconds before the next try after ``tries`` tries: base·2^(tries-1), at most ``cap``,
    plus up to ``base`` of jitter so that retries that failed together do not return together."""
    return min(cap, base * 2 ** max(0, tries - 1)) + random.uniform(0, base)  # noqa: S311

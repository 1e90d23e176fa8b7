"""Work a request leaves for after its answer has gone.

A page whose answer does not depend on a write (a wallet status kept in the cache, our copy of a
card's tokens, a link given out before it is recorded) can answer first and write when the
server closes the response. The view hands the domain an ``AfterAnswer`` (its list's
``append``); the domain hands it the work, wrapped by ``in_this_context`` so that it runs as the
request would have run it (actor, client address, request and correlation ids). A caller that
gives none (the REST API, a task) has the work done at once.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable

Work = Callable[[], None]
AfterAnswer = Callable[[Work], None]


def in_this_context(work: Work) -> Work:
    """``work``, to be run later in a copy of the current context (the request's ids)."""
    return functools.partial(contextvars.copy_context().run, work)


def now_or_after_answer(work: Work, after_answer: AfterAnswer | None) -> None:
    """Run ``work`` now, or hand it to ``after_answer`` to run in this context later."""
    if after_answer is None:
        work()
    else:
        after_answer(in_this_context(work))

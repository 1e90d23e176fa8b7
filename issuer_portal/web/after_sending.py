"""Responses that run work once they have been sent (``issuer_portal.core.after_answer``)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse, HttpResponseRedirect

from issuer_portal.core.after_answer import Work

logger = logging.getLogger(__name__)


class WorkAfterSending:
    """A response with ``after_sending``: work the server runs once the answer has been sent,
    when it closes the response (WSGI), before the request's database connection is given
    back. A failure there is logged: the cardholder already has the answer."""

    after_sending: list[Work]

    def close(self) -> None:
        try:
            for work in self.after_sending:
                try:
                    work()
                except Exception:  # the answer has gone: nobody to tell but the log
                    logger.exception("work after the answer failed")
        finally:
            super().close()  # type: ignore[misc]


class PageThenWork(WorkAfterSending, HttpResponse):
    def __init__(self, content: Any, *, after_sending: list[Work]) -> None:
        super().__init__(content)
        self.after_sending = after_sending


class RedirectThenWork(WorkAfterSending, HttpResponseRedirect):
    def __init__(self, to: str, *, after_sending: list[Work] | None = None) -> None:
        super().__init__(to)
        self.after_sending = after_sending or []

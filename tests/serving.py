"""A request served as the server serves it: the answer first, then closing it once sent."""

from __future__ import annotations

from collections.abc import Callable

from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase
from django.test.client import ClientHandler


def answer_then_close(client, request: HttpRequest) -> tuple[HttpResponseBase, Callable[[], None]]:
    """Serve ``request`` with ``client``'s cookies through the portal's middleware; returns (the
    answer, close): closing runs what the answer left for after it had been sent."""
    request.META["HTTP_COOKIE"] = "; ".join(
        f"{name}={morsel.value}" for name, morsel in client.cookies.items()
    )
    request._dont_enforce_csrf_checks = True
    handler = ClientHandler()
    handler.load_middleware()
    answer = handler.get_response(request)

    def close() -> None:
        # As the test client closes: the test's database connection stays open.
        request_finished.disconnect(close_old_connections)
        try:
            answer.close()
        finally:
            request_finished.connect(close_old_connections)

    return answer, close

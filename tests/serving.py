"""A request served as the server serves it: the answer first, then closing it once sent."""

from __future__ import annotations

from collections.abc import Callable

from django.core.signals import request_finished
from django.db import OperationalError, close_old_connections, connection
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


def close_with_the_database_gone(close: Callable[[], None]) -> None:
    """Run ``close`` (from answer_then_close) while every statement fails as it does once the
    database has gone away."""

    def database_gone(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(database_gone):
        close()

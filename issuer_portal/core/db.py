"""The database connection around long waits on an upstream service, and long iterations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def give_back_connection_while_waiting() -> None:
    """Before waiting seconds on an upstream: with a connection pool, hand this thread's
    connection back (taking one again after costs microseconds), so threads that wait hold no
    connection. Without a pool, or inside a transaction, keep it: closing would cost more than
    it frees, or end the transaction."""
    pooled = bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))
    if pooled and connection.connection is not None and not connection.in_atomic_block:
        connection.close()


def in_pk_chunks(queryset: QuerySet[M], chunk_size: int = 500) -> Iterator[M]:
    """Every row of ``queryset`` in primary-key order, ``chunk_size`` rows a query (keyset
    pagination). Memory stays flat without a server-side cursor, so it also works where those
    are off (PgBouncer in transaction mode: DATABASE_DISABLE_SERVER_SIDE_CURSORS) and holds no
    cursor open through an hour-long rate-limited refresh."""
    last_pk = None
    while True:
        page = queryset.order_by("pk")
        if last_pk is not None:
            page = page.filter(pk__gt=last_pk)
        rows = list(page[:chunk_size])
        yield from rows
        if len(rows) < chunk_size:
            return
        last_pk = rows[-1].pk

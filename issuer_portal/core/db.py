"""The database connection around long waits on an upstream service."""

from __future__ import annotations

from django.db import connection


def give_back_connection_while_waiting() -> None:
    """Before waiting seconds on an upstream: with a connection pool, hand this thread's
    connection back (taking one again after costs microseconds), so threads that wait hold no
    connection. Without a pool, or inside a transaction, keep it: closing would cost more than
    it frees, or end the transaction."""
    pooled = bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))
    if pooled and connection.connection is not None and not connection.in_atomic_block:
        connection.close()

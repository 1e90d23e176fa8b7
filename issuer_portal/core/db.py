"""The database connection around long waits on an upstream service, long iterations, and
writes that belong together sent as one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Field, Model, QuerySet
from django.db.models.sql import InsertQuery, UpdateQuery

M = TypeVar("M", bound=Model)


def give_back_connection_while_waiting() -> None:
    """Before waiting seconds on an upstream: with a connection pool, hand this thread's
    connection back (taking one again after costs 0.3 to 0.4 ms), so threads that wait hold no
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


@dataclass(frozen=True)
class Write:
    """One INSERT or UPDATE for ``write_together``, as the ORM would send it."""

    sql: str
    params: tuple[Any, ...]
    model: type[Model]
    # An INSERT's object (it gets its primary key), and its parts for a conditional INSERT.
    inserted: Model | None = None
    only_if: str = ""  # the name of an earlier write that must have written a row
    into: str = ""
    values: str = ""


def insert_of(obj: Model, *, only_if: str = "") -> Write:
    """The INSERT of the new ``obj`` (defaults and auto_now fields applied as save() does). No
    save signals are sent: for models that have no receivers. ``only_if``: the name of an
    earlier write in the same ``write_together`` that must have written a row."""
    meta = obj._meta
    fields = tuple(
        f for f in meta.local_concrete_fields if not (f is meta.auto_field and obj.pk is None)
    )
    key = (type(obj), fields, connection.alias)
    values = [f.pre_save(obj, add=True) for f in fields]
    expressions = any(hasattr(v, "resolve_expression") for v in values)
    statement = None if expressions else _insert_statements.get(key)
    if statement is None:
        into, placeholders, params = _compiled_insert(obj, fields)
        if not expressions:
            _insert_statements[key] = (into, placeholders)
    else:
        # The statement depends only on the model and its fields, so the ORM compiles it once
        # (compiling costs more than the row's values); the values are prepared as it does.
        into, placeholders = statement
        params = tuple(
            f.get_db_prep_save(v, connection=connection)
            for f, v in zip(fields, values, strict=True)
        )
    return Write(
        sql=f"{into} VALUES ({placeholders})",
        params=params,
        model=type(obj),
        inserted=obj,
        only_if=only_if,
        into=into,
        values=placeholders,
    )


# (model, fields, database alias) -> (INSERT INTO ... (columns), the values' placeholders)
_insert_statements: dict[tuple[type[Model], tuple[Field, ...], str], tuple[str, str]] = {}


def _compiled_insert(obj: Model, fields: tuple[Field, ...]) -> tuple[str, str, tuple[Any, ...]]:
    """The ORM's own compilation of ``obj``'s INSERT: (INSERT INTO ..., placeholders, params)."""
    query = InsertQuery(type(obj))
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(connection=connection)
    row = [compiler.prepare_value(f, compiler.pre_save_val(f, obj)) for f in fields]
    placeholder_rows, param_rows = compiler.assemble_as_sql(fields, [row])
    quote = compiler.connection.ops.quote_name
    into = f"INSERT INTO {quote(obj._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    return into, ", ".join(placeholder_rows[0]), tuple(param_rows[0])


def update_of(queryset: QuerySet[M], **values: Any) -> Write:
    """The UPDATE ``queryset.update(**values)`` would send (auto_now fields untouched, as there)."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(connection=connection).as_sql()
    return Write(sql=sql, params=tuple(params), model=queryset.model)


def write_together(**writes: Write) -> dict[str, int]:
    """Make ``writes`` (named, in order) all or none, and return the rows each wrote.

    On PostgreSQL: one statement of data-modifying WITH clauses, so one round trip to the
    server and no BEGIN or COMMIT of their own (the statement is its own transaction, or part of
    the caller's). Elsewhere: the statements one by one in one transaction. Inserted objects get
    their primary keys. Raises IntegrityError (nothing written) like the ORM would.
    """
    earlier: set[str] = set()
    for name, write in writes.items():
        if write.only_if and write.only_if not in earlier:
            raise ValueError(f"{name} waits on {write.only_if!r}, not an earlier write")
        earlier.add(name)
    if connection.vendor == "postgresql":
        written = _as_one_statement(writes)
    else:
        with transaction.atomic():
            written = _one_by_one(writes)
    for write, pks in zip(writes.values(), written, strict=True):
        if write.inserted is not None and pks:
            write.inserted.pk = pks[0]
            write.inserted._state.adding = False
            write.inserted._state.db = connection.alias
    return {name: len(pks) for name, pks in zip(writes, written, strict=True)}


def _returning(write: Write, sql: str) -> str:
    return f"{sql} RETURNING {connection.ops.quote_name(write.model._meta.pk.column)}"


def _as_one_statement(writes: dict[str, Write]) -> list[list[int]]:
    # The WITH names are ours (w0, w1, ...): the callers' names never reach the SQL.
    numbers = {name: number for number, name in enumerate(writes)}
    parts, params = [], []
    for number, write in enumerate(writes.values()):
        sql = write.sql
        if write.only_if:
            earlier = f"w{numbers[write.only_if]}"
            # Table, columns and placeholders from the ORM, names of ours: no value is in the SQL.
            sql = f"{write.into} SELECT {write.values} WHERE EXISTS (SELECT 1 FROM {earlier})"  # noqa: S608
        parts.append(f"w{number} AS ({_returning(write, sql)})")
        params.extend(write.params)
    collected = " UNION ALL ".join(
        f"SELECT {n}, w{n}.* FROM w{n}"  # noqa: S608 - our own names, numbered
        for n in range(len(writes))
    )
    # Inside the caller's transaction a failed statement would poison it: a savepoint keeps it
    # usable (IntegrityError is how a double click shows). Outside one: no transaction at all.
    scope = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with scope, connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} {collected}", params)
        rows = cursor.fetchall()
    written: list[list[int]] = [[] for _ in writes]
    for number, pk in rows:
        written[number].append(pk)
    return written


def _one_by_one(writes: dict[str, Write]) -> list[list[int]]:
    written: dict[str, list[int]] = {}
    with connection.cursor() as cursor:
        for name, write in writes.items():
            if write.only_if and not written[write.only_if]:
                written[name] = []
                continue
            cursor.execute(_returning(write, write.sql), write.params)
            written[name] = [row[0] for row in cursor.fetchall()]
    return list(written.values())

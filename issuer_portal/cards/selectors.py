"""Read queries of the portal: always scoped to the signed-in cardholder."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.db.models import Field
from django.db.models.expressions import Col

from issuer_portal.cards.models import Card, Cardholder, Country
from issuer_portal.cards.nin import normalize_nin
from issuer_portal.core.domain_errors import DomainError, ErrorCode


def cardholder_for_user(user: AbstractBaseUser | AnonymousUser) -> Cardholder | None:
    """The cardholder linked to ``user``, or None (staff accounts, anonymous users)."""
    if not user.is_authenticated:
        return None
    # get(), not first(): at most one row, and no ORDER BY to compile (on every card list).
    try:
        return Cardholder.objects.get(user=user)
    except Cardholder.DoesNotExist:
        return None


def cards_for_cardholder(cardholder: Cardholder) -> list[Card]:
    """The cardholder's cards in one query for any number; each card's ``cardholder`` is the
    object given (not a joined copy, whose identity number would be decrypted once per card)."""
    cards = list(Card.objects.filter(cardholder=cardholder))
    for card in cards:
        card.cardholder = cardholder
    return cards


def card_of_user(user: AbstractBaseUser | AnonymousUser, public_id: uuid.UUID) -> Card:
    """One of the signed-in cardholder's cards with its ``cardholder``, in one query (a page
    about one card needs both); DomainError(not_found) for a missing card or someone else's
    (the two look the same)."""
    if not user.is_authenticated:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.")
    # The query the ORM would send for select_related("cardholder"), written once: "Add" opens
    # with it, and compiling it each time cost more than sending it (0.7 of 1.3 ms).
    public_id_field = Card._meta.get_field("public_id")
    params = [public_id_field.get_db_prep_value(public_id, connection), user.pk]
    found = list(Card.objects.raw(_card_with_cardholder_sql(connection.alias), params))
    if not found:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.")
    card = found[0]
    # The cardholder's columns came as extra attributes of the card, unconverted.
    names, values = [], []
    for field, column, converters in _cardholder_columns(connection.alias):
        value = card.__dict__.pop(_HOLDER + field.column)
        for convert in converters:
            value = convert(value, column, connection)
        names.append(field.attname)
        values.append(value)
    card.cardholder = Cardholder.from_db(connection.alias, names, values)
    return card


_HOLDER = "cardholder__"  # the prefix of the cardholder's columns in card_of_user's query


@functools.cache
def _card_with_cardholder_sql(alias: str) -> str:
    """SELECT a card with its cardholder's columns (prefixed) by public_id and user."""
    q = connections[alias].ops.quote_name
    card, holder = Card._meta, Cardholder._meta
    columns = [f"c.{q(f.column)}" for f in card.concrete_fields]
    columns += [f"h.{q(f.column)} AS {q(_HOLDER + f.column)}" for f in holder.concrete_fields]
    to_holder, public_id = (q(card.get_field(name).column) for name in ("cardholder", "public_id"))
    user = q(holder.get_field("user").column)
    # Names from the models, quoted; both values are parameters.
    return (
        f"SELECT {', '.join(columns)} FROM {q(card.db_table)} c"  # noqa: S608
        f" JOIN {q(holder.db_table)} h ON h.{q(holder.pk.column)} = c.{to_holder}"
        f" WHERE c.{public_id} = %s AND h.{user} = %s"
    )


@functools.cache
def _cardholder_columns(alias: str) -> list[tuple[Field, Col, list[Any]]]:
    """Each concrete field of Cardholder with its column and the converters the ORM applies to
    its values from the database (the backend's, then the field's, e.g. decryption)."""
    database = connections[alias]
    columns = []
    for field in Cardholder._meta.concrete_fields:
        column = field.get_col(Cardholder._meta.db_table)
        converters = database.ops.get_db_converters(column) + field.get_db_converters(database)
        columns.append((field, column, converters))
    return columns


def nin_lookup_hashes(raw: str) -> list[str]:
    """The lookup hashes of every country's valid reading of ``raw`` (a national identity
    number from a source that does not say its country); the number itself is never kept."""
    hashes = []
    for country in Country.values:
        try:
            hashes.append(Cardholder.nin_lookup_hash(country, normalize_nin(country, raw)))
        except ValidationError:
            continue
    return hashes

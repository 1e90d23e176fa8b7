"""Read queries of the portal: always scoped to the signed-in cardholder."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError

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
    try:
        # public_id is unique: get() sends no ORDER BY, which first() would compile and send.
        return Card.objects.select_related("cardholder").get(
            cardholder__user=user, public_id=public_id
        )
    except Card.DoesNotExist:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.") from None


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

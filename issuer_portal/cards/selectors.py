"""Read queries of the portal: always scoped to the signed-in cardholder."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from issuer_portal.cards.models import Card, Cardholder
from issuer_portal.core.domain_errors import DomainError, ErrorCode


def cardholder_for_user(user: AbstractBaseUser | AnonymousUser) -> Cardholder | None:
    """The cardholder linked to ``user``, or None (staff accounts, anonymous users)."""
    if not user.is_authenticated:
        return None
    return Cardholder.objects.filter(user=user).first()


def cards_for_cardholder(cardholder: Cardholder) -> QuerySet[Card]:
    """The cardholder's cards, with the cardholder joined in (one query for any number)."""
    return Card.objects.filter(cardholder=cardholder).select_related("cardholder")


def card_for_cardholder(cardholder: Cardholder | None, public_id: uuid.UUID) -> Card:
    """One of the cardholder's cards; DomainError(not_found) for a missing card or someone else's
    (the two look the same)."""
    card = (
        cards_for_cardholder(cardholder).filter(public_id=public_id).first()
        if cardholder is not None
        else None
    )
    if card is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.")
    return card

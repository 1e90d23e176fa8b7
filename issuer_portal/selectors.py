"""Read queries of the portal: always scoped to the signed-in cardholder."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from issuer_portal.models import Card, Cardholder


def cardholder_for_user(user: AbstractBaseUser | AnonymousUser) -> Cardholder | None:
    """The cardholder linked to ``user``, or None (staff accounts, anonymous users)."""
    if not user.is_authenticated:
        return None
    return Cardholder.objects.filter(user=user).first()


def cards_for_cardholder(cardholder: Cardholder) -> QuerySet[Card]:
    """The cardholder's cards, with the cardholder joined in (one query for any number)."""
    return Card.objects.filter(cardholder=cardholder).select_related("cardholder")


def card_for_cardholder(cardholder: Cardholder | None, public_id: uuid.UUID) -> Card:
    """One of the cardholder's cards; raises Http404 for a missing card or someone else's."""
    if cardholder is None:
        raise Http404
    card = cards_for_cardholder(cardholder).filter(public_id=public_id).first()
    if card is None:
        raise Http404
    return card

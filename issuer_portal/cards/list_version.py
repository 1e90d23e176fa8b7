"""A version of each cardholder's card list, in the shared cache: it moves whenever something the
list shows changes, so a page kept under an older version is never served.

Moved by: a card or a cardholder saved or deleted (receivers below), a card's wallet status
fetched anew, forgotten or set by a token notification (``tokens.services``). Changes that send
no signal (bulk imports, SQL by hand) show once the kept page expires (seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from issuer_portal.cards.models import Card, Cardholder

VERSION_SECONDS = 24 * 3600


def card_list_version_key(user_id: int) -> str:
    return f"cards:list-version:{user_id}"


def new_card_list_version(user_id: int) -> str:
    """Start a new version of the user's card list and return it."""
    version = uuid.uuid4().hex
    cache.set(card_list_version_key(user_id), version, timeout=VERSION_SECONDS)
    return version


def note_card_list_changed(cardholders: Iterable[Cardholder | None]) -> None:
    """The lists of these cardholders changed: now, and again when the transaction commits (a
    page rendered from the data before the commit must not keep the new version)."""
    keys = sorted({h.user_id for h in cardholders if h is not None and h.user_id})
    if not keys:
        return

    def move() -> None:
        cache.set_many(
            {card_list_version_key(user_id): uuid.uuid4().hex for user_id in keys},
            timeout=VERSION_SECONDS,
        )

    move()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(move)


def _card_changed(sender: type, instance: Card, **kwargs: Any) -> None:
    try:
        holder = instance.cardholder
    except Cardholder.DoesNotExist:  # deleted with its cardholder
        return
    note_card_list_changed([holder])


def _cardholder_changed(sender: type, instance: Cardholder, **kwargs: Any) -> None:
    note_card_list_changed([instance])


def connect_receivers() -> None:
    for signal in (post_save, post_delete):
        signal.connect(_card_changed, sender=Card, dispatch_uid=f"card-list-{signal}-card")
        signal.connect(
            _cardholder_changed, sender=Cardholder, dispatch_uid=f"card-list-{signal}-holder"
        )

"""Operations on the token simulator's store: the demo, the Vipps sandbox and developers use these
to create exactly the token scenario they need."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction

from issuer_portal.cards.models import Card
from tokens.models import SimulatedToken, TokenRequestor, TokenStatus, TokenType, TridKind
from tokens.services import forget_wallet_state


def _new_reference(card: Card) -> str:
    prefix = "DNITHE" if card.network == "visa" else "DAPLMC"
    return prefix + secrets.token_hex(12).upper()


def simulated_device_id(card: Card, device_name: str) -> str:
    """A stable, opaque device id, as a token service gives one: the same phone (by name) of
    the same cardholder has the same id on every card; no name, no device."""
    if not device_name:
        return ""
    seed = f"{card.cardholder.public_id}:{device_name.strip().casefold()}"
    return "SIMDEV" + hashlib.sha256(seed.encode()).hexdigest()[:20].upper()


@transaction.atomic
def add_simulated_token(
    *, card: Card, trid: str, status: str = TokenStatus.ACTIVE, device_name: str = ""
) -> SimulatedToken:
    """Create (or update the status of) the card's simulated token under ``trid`` on the
    device ``device_name``: another device under the same TRID is another token.

    The token type follows the TRID's kind. Raises ValidationError for a TRID that is not
    registered or belongs to another network, or an unknown status.
    """
    requestor = TokenRequestor.objects.filter(trid=trid).first()
    if requestor is None:
        raise ValidationError(f"TRID {trid} is not in the registry.")
    if requestor.network != card.network:
        raise ValidationError(
            f"TRID {trid} belongs to {requestor.get_network_display()}, the card is "
            f"{card.get_network_display()}."
        )
    if status not in TokenStatus.values:
        raise ValidationError("status must be one of " + ", ".join(TokenStatus.values))
    token_type = TokenType.CARD_ON_FILE if requestor.kind == TridKind.ECOM else TokenType.DEVICE
    token, created = SimulatedToken.objects.get_or_create(
        card=card,
        trid=trid,
        device_id=simulated_device_id(card, device_name),
        defaults={
            "token_reference": _new_reference(card),
            "status": status,
            "token_type": token_type,
            "device_name": device_name,
        },
    )
    if not created:
        token.status = status
        token.save(update_fields=["status", "updated_at"])
    _forget_now_and_after_commit(card)
    return token


@transaction.atomic
def remove_simulated_tokens(*, card: Card, trid: str | None = None) -> int:
    """Delete the card's simulated tokens (only the one under ``trid`` when given)."""
    tokens = SimulatedToken.objects.filter(card=card)
    if trid:
        tokens = tokens.filter(trid=trid)
    count, _ = tokens.delete()
    _forget_now_and_after_commit(card)
    return count


def _forget_now_and_after_commit(card: Card) -> None:
    # Again after commit: a page rendered meanwhile may have cached the old tokens.
    forget_wallet_state(card)
    transaction.on_commit(lambda: forget_wallet_state(card))

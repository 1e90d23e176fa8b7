"""Demo token scenarios in the token simulator, on top of ``seed_demo``'s cards (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from issuer_portal.cards.models import Card
from issuer_portal.core.demo_only import DemoOnlyCommand
from tokens.models import TokenRequestor
from tokens.simulator import add_simulated_token

# PAN of a demo card -> (TRID kind, provider or platform, status, device) of its tokens.
# TRIDs themselves come from the registry: they are data.
DEMO_TOKENS = {
    # kari's Visa is in Vipps without contactless; her Mastercard is not in Vipps yet.
    "4111111111111111": [("ecom", "Vipps", "active", "")],
    # mette's Visa is in MobilePay with contactless on her new iPhone and on the old one she
    # still has to pause or remove ("I lost my phone", the card page's devices).
    "4242424242424242": [
        ("ecom", "MobilePay", "active", ""),
        ("nfc", "iOS", "active", "iPhone"),
        ("nfc", "iOS", "active", "Old iPhone"),
    ],
    # aino's Mastercard is suspended in MobilePay.
    "5200828282828210": [("ecom", "MobilePay", "suspended", "")],
}


def _registered_trid(card: Card, kind: str, label: str) -> str:
    requestor = (
        TokenRequestor.objects.filter(
            network=card.network, kind=kind, status="active", label__istartswith=label
        )
        .order_by("-updated_at")
        .first()
    )
    if requestor is None:
        raise CommandError(f"no active {kind} TRID for {label} on {card.network} in the registry")
    return requestor.trid


class Command(DemoOnlyCommand):
    help = "Create the demo's simulated network tokens (run after seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        for pan, tokens in DEMO_TOKENS.items():
            card = Card.objects.filter(pan_hmac=Card.pan_lookup_hash(pan)).first()
            if card is None:
                raise CommandError("run seed_demo first")
            for kind, label, status, device in tokens:
                trid = _registered_trid(card, kind, label)
                add_simulated_token(card=card, trid=trid, status=status, device_name=device)
                count += 1
        self.stdout.write(f"Demo tokens ready: {count} simulated tokens.")

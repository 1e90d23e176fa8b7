from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.models import Card
from tokens.models import SimulatedToken, TokenStatus
from tokens.simulator import add_simulated_token, remove_simulated_tokens


def _card(card_id: str) -> Card:
    try:
        return Card.objects.select_related("cardholder").get(public_id=card_id)
    except (Card.DoesNotExist, ValidationError):
        raise CommandError(f"no card with id {card_id}") from None


def _as_json(token: SimulatedToken) -> dict[str, str]:
    """What a script may see of a simulated token: never its whole reference, never card data."""
    return {
        "card": str(token.card.public_id),
        "reference_suffix": token.token_reference[-6:],
        "trid": token.trid,
        "token_type": token.token_type,
        "device": token.device_name,
        "device_id": token.device_id,
        "status": token.status,
        "last_reason": token.last_reason,
    }


class Command(BaseCommand):
    help = "Set up token scenarios in the token simulator (demo and development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a token under a TRID (type follows the TRID kind)")
        add.add_argument("card", help="card UUID")
        add.add_argument("trid")
        add.add_argument("--status", default="active", choices=TokenStatus.values)
        add.add_argument(
            "--device",
            default="",
            help="device name; a device the card has no token on under this TRID gets a new one",
        )
        listing = sub.add_parser("list", help="list simulated tokens")
        listing.add_argument("card", nargs="?", help="card UUID")
        listing.add_argument("--json", action="store_true", help="one JSON array, for scripts")
        remove = sub.add_parser("remove", help="remove a card's tokens (or only one TRID's)")
        remove.add_argument("card", help="card UUID")
        remove.add_argument("trid", nargs="?")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "add":
            card = _card(options["card"])
            try:
                token = add_simulated_token(
                    card=card,
                    trid=options["trid"],
                    status=options["status"],
                    device_name=options["device"],
                )
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            self.stdout.write(
                f"{card.public_id} {token.trid} {token.status} {token.token_type}"
                + (f" {token.device_name}" if token.device_name else "")
            )
        elif action == "list":
            tokens = SimulatedToken.objects.select_related("card").order_by(
                "card_id", "trid", "device_name", "pk"
            )
            if options["card"]:
                tokens = tokens.filter(card=_card(options["card"]))
            if options["json"]:
                self.stdout.write(json.dumps([_as_json(token) for token in tokens], indent=2))
                return
            for token in tokens:
                self.stdout.write(
                    f"{token.card.public_id} •••• {token.card.last4} {token.trid} "
                    f"{token.status} {token.token_type} …{token.token_reference[-6:]}"
                    + (f" {token.device_name}" if token.device_name else "")
                    + (f" ({token.last_reason})" if token.last_reason else "")
                )
        else:
            count = remove_simulated_tokens(card=_card(options["card"]), trid=options["trid"])
            self.stdout.write(f"removed {count} token(s)")

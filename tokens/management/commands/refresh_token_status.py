from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.models import Card
from tokens.services import refresh_wallet_states


class Command(BaseCommand):
    help = "Refresh wallet statuses from the token service, in rate-limited batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cards", nargs="*", help="card UUIDs")
        parser.add_argument("--all", action="store_true", help="every card")
        parser.add_argument("--json", action="store_true", help="print a JSON array")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--per-second", type=float, default=None, help="lookups per second")

    def handle(self, *args: Any, cards: list[str], **options: Any) -> None:
        if options["all"] == bool(cards):
            raise CommandError("give either --all or one or more card UUIDs")
        queryset = Card.objects.select_related("cardholder").order_by("pk")
        if cards:
            try:
                queryset = queryset.filter(public_id__in=cards)
                found = {str(card.public_id) for card in queryset}
            except ValidationError:
                raise CommandError("card ids must be UUIDs") from None
            unknown = sorted(set(cards) - found)
            if unknown:
                raise CommandError("no card with id " + ", ".join(unknown))
        states = refresh_wallet_states(
            cards=queryset.iterator(chunk_size=500),
            batch_size=options["batch_size"],
            per_second=options["per_second"],
        )
        rows = [
            {
                "card": str(state.card.public_id),
                "last4": state.card.last4,
                "status": state.status.value,
                "eligible": state.eligible,
                "reason": state.reason.value if state.reason else None,
                "next_action": state.next_action.value if state.next_action else None,
            }
            for state in states
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(
                f"{row['card']} •••• {row['last4']} {row['status']}"
                f" next={row['next_action'] or '-'}"
                + (f" ({row['reason']})" if row["reason"] else "")
            )

"""Set a card's status as the card management system reports it; its tokens follow."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.models import Card, CardState
from issuer_portal.core.domain_errors import DomainError
from tokens.card_events import apply_card_event
from tokens.models import ChangeReason


class Command(BaseCommand):
    help = (
        "Set a card active, blocked or closed. Blocked suspends its tokens, active again resumes "
        "the ones the bank suspended, closed deletes them (queued, retried)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("card", help="card UUID")
        parser.add_argument(
            "status", choices=[CardState.ACTIVE, CardState.BLOCKED, CardState.CLOSED]
        )
        parser.add_argument("--reason", choices=ChangeReason.values, default="")
        parser.add_argument(
            "--event-id",
            default="",
            help="the card management system's event id (a repeat changes nothing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            card = Card.objects.select_related("cardholder").get(public_id=options["card"])
        except (Card.DoesNotExist, ValidationError):
            raise CommandError(f"no card with id {options['card']}") from None
        try:
            event, created = apply_card_event(
                event_id=options["event_id"] or f"command-{uuid.uuid4()}",
                card=card,
                kind=options["status"],
                reason=options["reason"],
                source="command",
            )
        except DomainError as refused:
            raise CommandError(refused.message) from None
        if not created:
            self.stdout.write(f"event {event.event_id} was already applied: nothing changed")
            return
        self.stdout.write(
            f"card {card.public_id} {options['status']}: {event.token_changes} token change(s) "
            "queued"
        )

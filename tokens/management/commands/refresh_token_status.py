from __future__ import annotations

import json
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.models import Card
from issuer_portal.core.db import in_pk_chunks
from tokens.services import iter_refreshed_wallet_states
from tokens.status import CardWalletState

PROGRESS_EVERY_SECONDS = 5.0


class Command(BaseCommand):
    help = (
        "Refresh wallet statuses from the token service, in rate-limited batches. Cards are read "
        "and printed as they go (memory stays flat for any number); progress goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cards", nargs="*", help="card UUIDs")
        parser.add_argument("--all", action="store_true", help="every card")
        parser.add_argument("--json", action="store_true", help="print a JSON array")
        parser.add_argument("--quiet", action="store_true", help="print progress only")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--per-second", type=float, default=None, help="lookups per second")

    def handle(self, *args: Any, cards: list[str], **options: Any) -> None:
        if options["all"] == bool(cards):
            raise CommandError("give either --all or one or more card UUIDs")
        for name in ("batch_size", "per_second"):
            if options[name] is not None and options[name] <= 0:
                raise CommandError(f"--{name.replace('_', '-')} must be positive")
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
        total = queryset.count()
        states = iter_refreshed_wallet_states(
            cards=in_pk_chunks(queryset, 500),
            batch_size=options["batch_size"],
            per_second=options["per_second"],
        )
        progress = _Progress(self.stderr, total)
        if options["json"] and not options["quiet"]:
            self.stdout.write("[", ending="")
        for done, state in enumerate(states, start=1):
            if not options["quiet"]:
                self._print(state, json_mode=options["json"], first=done == 1)
            progress.update(done)
        if options["json"] and not options["quiet"]:
            self.stdout.write("\n]")
        progress.finish()

    def _print(self, state: CardWalletState, *, json_mode: bool, first: bool) -> None:
        row = {
            "card": str(state.card.public_id),
            "last4": state.card.last4,
            "status": state.status.value,
            "eligible": state.eligible,
            "reason": state.reason.value if state.reason else None,
            "next_action": state.next_action.value if state.next_action else None,
        }
        if json_mode:
            self.stdout.write(("\n" if first else ",\n") + json.dumps(row), ending="")
            return
        self.stdout.write(
            f"{row['card']} •••• {row['last4']} {row['status']}"
            f" next={row['next_action'] or '-'}" + (f" ({row['reason']})" if row["reason"] else "")
        )


class _Progress:
    """A line on stderr every few seconds: cards done, rate, time left."""

    def __init__(self, stream: Any, total: int) -> None:
        self.stream, self.total = stream, total
        self.started = self.last = time.monotonic()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            self.stream.write(self._line(now))

    def finish(self) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"refreshed {self.done:,} of {self.total:,} cards in {elapsed:.1f} s"
            f" ({self.done / max(elapsed, 1e-6):.1f}/s)"
        )

    def _line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0
        share = self.done * 100 // self.total if self.total else 100
        return (
            f"refreshed {self.done:,} of {self.total:,} cards ({share} %),"
            f" {rate:.1f}/s, about {left:.0f} s left"
        )

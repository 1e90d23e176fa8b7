"""Find and fix drift between card states and their tokens (Celery beat runs it daily)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tokens.card_events import reconcile_card_tokens


class Command(BaseCommand):
    help = "Suspend active tokens of blocked cards and delete live tokens of closed cards."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="the report as JSON")
        parser.add_argument(
            "--no-refresh",
            action="store_true",
            help="use our copy of the tokens without asking the token service first",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile_card_tokens(refresh=not options["no_refresh"])
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(
            f"checked {report['cards_checked']} blocked or closed card(s) with live tokens: "
            f"{report['suspended']} suspension(s) and {report['deleted']} deletion(s) queued "
            f"on {len(report['cards_fixed'])} card(s)"
        )
        for card in report["cards_fixed"]:
            self.stdout.write(f"  fixed {card}")

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.services import (
    IMPORT_COLUMNS,
    OPTIONAL_COLUMNS,
    ImportFileError,
    import_cards_csv,
)
from issuer_portal.core.domain_errors import DomainError
from tokens.card_events import REISSUED, apply_card_event


class Command(BaseCommand):
    help = (
        "Load cardholders and cards from a CSV file with the header "
        + ",".join(IMPORT_COLUMNS)
        + " (optionally ,"
        + ",".join(OPTIONAL_COLUMNS)
        + ": the id of the card a reissued card replaces; its wallet tokens move to the new card)"
        + ". Idempotent; bad rows are reported by line number and the rest still load."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the CSV file (UTF-8), or - for standard input")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        try:
            if file == "-":
                import sys

                report = import_cards_csv(stream=sys.stdin)
            else:
                with open(file, encoding="utf-8-sig", newline="") as stream:
                    report = import_cards_csv(stream=stream)
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        except ImportFileError as error:
            raise CommandError(f"{file}: {error}") from None
        for row_error in report.errors:
            self.stderr.write(str(row_error))
        self.stdout.write(report.summary())
        moved = 0
        for replaced, card in report.reissued:
            try:
                event, created = apply_card_event(
                    # One event per new card: importing the same file again moves nothing twice.
                    event_id=f"import-reissue-{card.public_id}",
                    card=replaced,
                    kind=REISSUED,
                    new_card=card,
                    source="import",
                )
            except DomainError as refused:
                self.stderr.write(f"card {card.public_id}: tokens not moved: {refused.message}")
                continue
            moved += event.token_changes if created else 0
        if report.reissued:
            self.stdout.write(
                f"{len(report.reissued)} reissued card(s): {moved} wallet token(s) queued to move"
            )
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows failed; the other rows were imported.")

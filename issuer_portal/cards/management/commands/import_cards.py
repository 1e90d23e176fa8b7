from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from issuer_portal.cards.services import IMPORT_COLUMNS, ImportFileError, import_cards_csv


class Command(BaseCommand):
    help = (
        "Load cardholders and cards from a CSV file with the header "
        + ",".join(IMPORT_COLUMNS)
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
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows failed; the other rows were imported.")

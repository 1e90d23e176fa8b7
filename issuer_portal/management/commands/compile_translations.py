"""Compile the translation catalogues (.po → .mo) with Babel: no GNU gettext needed in the build.

Refuses a catalogue with untranslated or fuzzy messages unless --allow-incomplete, so an
unfinished translation never reaches a cardholder as a half-English page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def catalogue_path(language: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / "django.po"


def incomplete_messages(path: Path) -> list[str]:
    """The ids of the catalogue's untranslated or fuzzy messages."""
    with path.open("rb") as po:
        catalogue = read_po(po)
    problems = []
    for message in catalogue:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            ident = message.id[0] if isinstance(message.id, tuple) else message.id
            problems.append(("fuzzy: " if message.fuzzy else "untranslated: ") + ident)
    return problems


class Command(BaseCommand):
    help = "Compile every language's catalogue (settings.LANGUAGES but English) to .mo."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-incomplete",
            action="store_true",
            help="compile even with untranslated or fuzzy messages (they show in English)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        failures = []
        for language, _name in settings.LANGUAGES:
            if language == "en":
                continue  # the source language: the texts in the code
            path = catalogue_path(language)
            if not path.exists():
                failures.append(f"{language}: no catalogue at {path}")
                continue
            problems = incomplete_messages(path)
            if problems and not options["allow_incomplete"]:
                failures.append(f"{language}: {len(problems)} incomplete, e.g. {problems[0]!r}")
                continue
            with path.open("rb") as po:
                catalogue = read_po(po, locale=language)
            with path.with_suffix(".mo").open("wb") as mo:
                write_mo(mo, catalogue, use_fuzzy=False)
            self.stdout.write(f"{language}: {len(catalogue)} messages compiled")
        if failures:
            raise CommandError("; ".join(failures))

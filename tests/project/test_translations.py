"""Every language the portal offers has a complete catalogue: no untranslated or fuzzy text."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from issuer_portal.management.commands.compile_translations import (
    catalogue_path,
    incomplete_messages,
)

LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]


def test_the_five_languages_are_offered():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "nb", "sv", "da", "fi"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete(language):
    assert incomplete_messages(catalogue_path(language)) == []


def test_an_incomplete_catalogue_fails_the_build(tmp_path, settings):
    for language in LANGUAGES:
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "django.po").write_bytes(catalogue_path(language).read_bytes())
    swedish = tmp_path / "sv" / "LC_MESSAGES" / "django.po"
    swedish.write_text(
        swedish.read_text().replace('msgstr "Mina kort"', 'msgstr ""', 1), encoding="utf-8"
    )
    settings.LOCALE_PATHS = [tmp_path]
    refusal = re.escape("sv: 1 incomplete, e.g. 'untranslated: My cards'")
    with pytest.raises(CommandError, match=refusal):
        call_command("compile_translations")
    assert not (tmp_path / "sv" / "LC_MESSAGES" / "django.mo").exists()
    call_command("compile_translations", "--allow-incomplete")
    assert (tmp_path / "sv" / "LC_MESSAGES" / "django.mo").exists()

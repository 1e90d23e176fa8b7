"""Readying a web server process before its first request (gunicorn's post_worker_init hook).

Django loads the URLconf, the translation catalogues and the templates on first use; in a fresh
process the first cardholders of each language (a campaign right after a deploy) would wait for
that. Loaded up front, that state then lives as long as the process, and ``gc.freeze()`` moves it
to the collector's permanent generation, which collections skip: a full collection otherwise
walks every object the process holds (about 140,000 in a worker; 100-165 ms with every thread of
the process stopped, measured under the "Add" crowd of ``make bench``) and, after the freeze,
only the 15,000 or so made since (30-65 ms).
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from django.conf import settings
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation

logger = logging.getLogger(__name__)


def _portal_templates() -> list[str]:
    """The names of the portal's own templates (TEMPLATES' DIRS), not those of every app."""
    names = []
    for engine in settings.TEMPLATES:
        for directory in map(Path, engine.get("DIRS", [])):
            names += [
                str(path.relative_to(directory)) for path in sorted(directory.rglob("*.html"))
            ]
    return names


def ready_worker() -> None:
    """Load what the first requests would load, then freeze the objects made so far."""
    get_resolver().url_patterns  # noqa: B018 - imports every view module
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Cards")  # any message: the first loads the catalogue
    for name in _portal_templates():
        try:
            get_template(name)
        except (TemplateDoesNotExist, TemplateSyntaxError):
            # The page that uses it fails with the same error, and says so where it is seen.
            logger.exception("template %s does not compile", name)
    gc.collect()
    gc.freeze()

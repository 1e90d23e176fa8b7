"""The issuer's colour as a CSS custom property, refused when white text on it is unreadable."""

from __future__ import annotations

import base64
import hashlib
import re

from django.core.exceptions import ImproperlyConfigured

_HEX = re.compile(r"#[0-9a-f]{6}")
# WCAG 2.2 AA for normal text: white button text on the colour, the colour as link text on white.
MINIMUM_CONTRAST = 4.5


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_with_white(colour: str) -> float:
    return 1.05 / (_luminance(colour) + 0.05)


def theme_style(colour: str) -> str:
    """The inline style element's text for ``#rrggbb``; ImproperlyConfigured when unreadable."""
    if not _HEX.fullmatch(colour):
        raise ImproperlyConfigured("ISSUER_COLOUR must be a colour written as #rrggbb.")
    ratio = contrast_with_white(colour)
    if ratio < MINIMUM_CONTRAST:
        raise ImproperlyConfigured(
            f"ISSUER_COLOUR {colour} has a contrast of {ratio:.1f}:1 with white; "
            f"at least {MINIMUM_CONTRAST}:1 is needed (WCAG AA). Choose a darker shade."
        )
    return f":root{{--accent:{colour}}}"


def style_hash(style: str) -> str:
    digest = hashlib.sha256(style.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()

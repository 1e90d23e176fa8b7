from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    return {
        "issuer_name": settings.ISSUER_NAME,
        "issuer_contact": settings.ISSUER_CONTACT,
        "theme_style": settings.THEME_STYLE,
        "login_lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }

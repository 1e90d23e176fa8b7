"""Commands that create demo data: refused outside debug, before anything is written."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class DemoOnlyCommand(BaseCommand):
    """A command that only runs with DJANGO_DEBUG on (it creates well-known accounts)."""

    def execute(self, *args: Any, **options: Any) -> str | None:
        if not settings.DEBUG:
            raise CommandError(
                f"{self.__module__.rsplit('.', 1)[-1]} creates demo accounts with published "
                "passwords and runs only with DJANGO_DEBUG on. Nothing was created."
            )
        return super().execute(*args, **options)

"""The Celery app. Settings come from Django's, prefixed CELERY_."""

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuer_portal.settings")

app = Celery("issuer_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit task modules, no scanning: add each app's tasks module here when it has one.
app.conf.imports = ("tokens.tasks", "provisioning.tasks", "issuer_portal.api.tasks")


@setup_logging.connect(weak=False)
def use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log exactly as the web processes do: JSON, ids, PAN/NIN masking.

    Connecting here stops Celery from replacing the root logger's handlers with its own.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # warnings too leave as JSON, through the same filter

"""The Celery app. Settings come from Django's, prefixed CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuer_portal.settings")

app = Celery("issuer_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Explicit task modules, no scanning: add each app's tasks module here when it has one.
app.conf.imports = ("tokens.tasks", "provisioning.tasks", "issuer_portal.api.tasks")

"""Health of the services the portal depends on, for /healthz and container health checks."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
NOT_CONFIGURED = "not_configured"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("health check: database failing")
        return FAILING
    return OK


def check_cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        healthy = cache.get(key) == "1"
        cache.delete(key)
    except Exception:
        logger.exception("health check: cache failing")
        return FAILING
    return OK if healthy else FAILING


def check_broker() -> str:
    if not settings.REDIS_URL:
        return NOT_CONFIGURED
    from issuer_portal.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    except Exception:
        logger.exception("health check: broker failing")
        return FAILING
    return OK


def health_report() -> tuple[bool, dict[str, str]]:
    """(healthy, {component: ok | failing | not_configured}) over settings.HEALTH_CHECKS."""
    from django.utils.module_loading import import_string

    checks = {name: import_string(path)() for name, path in settings.HEALTH_CHECKS.items()}
    return all(state != FAILING for state in checks.values()), checks

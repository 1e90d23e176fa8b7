"""Liveness and readiness, for load balancers, container platforms and monitoring.

``/healthz`` (liveness) answers from memory: the process serves requests. ``/readyz`` checks the
services the portal depends on (settings.READINESS_CHECKS) and caches the result per process for
READINESS_CACHE_SECONDS, so a probe storm costs one round of checks, not one per request; the
broker connection is kept and reused between rounds.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.module_loading import import_string

from issuer_portal.celery import app as celery_app
from issuer_portal.checks import simulated_components
from issuer_portal.core.process_memo import ProcessMemo

logger = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
NOT_CONFIGURED = "not_configured"
SIMULATED = "simulated"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.exception("readiness: database failing")
        return FAILING
    return OK


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=5)
        healthy = cache.get(key) == "1"
        cache.delete(key)
    except Exception:
        logger.exception("readiness: cache failing")
        return FAILING
    return OK if healthy else FAILING


_broker_lock = threading.Lock()
_broker_connections: dict[str, Any] = {}


def broker_transport() -> str:
    """The broker in use, by its transport only (redis, amqp, memory): never its address."""
    return str(celery_app.conf.broker_url).split("://", 1)[0].split("+", 1)[0]


def check_broker() -> str:
    """The broker answers, over one kept connection per broker URL. A kept connection that died
    since the last round (a broker restart) is replaced once before the broker counts as down."""
    if broker_transport() == "memory":
        return NOT_CONFIGURED
    url = celery_app.conf.broker_url
    with _broker_lock:
        kept = _broker_connections.pop(url, None)
        for conn in (kept, None) if kept is not None else (None,):
            if conn is None:
                conn = celery_app.connection_for_write()
            try:
                _round_trip(conn)
            except Exception:
                conn.collect()
                if conn is not kept:
                    logger.exception("readiness: broker failing")
                continue
            _broker_connections[url] = conn
            return OK
    return FAILING


def _round_trip(conn: Any) -> None:
    conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    client = getattr(conn.default_channel, "client", None)
    if client is not None and hasattr(client, "ping"):
        client.ping()  # Redis
    else:
        conn.channel().close()  # AMQP: opening a channel is a round trip to the broker


def check_stand_ins() -> str:
    """The Vipps sandbox or the token simulator outside debug: failing unless STAND_INS_ALLOWED."""
    if not simulated_components():
        return OK
    if settings.DEBUG or settings.STAND_INS_ALLOWED:
        return SIMULATED
    return FAILING


def _readiness_checks() -> tuple[bool, dict[str, str]]:
    checks = {name: import_string(path)() for name, path in settings.READINESS_CHECKS.items()}
    return all(state != FAILING for state in checks.values()), checks


_report = ProcessMemo(_readiness_checks, seconds=lambda: settings.READINESS_CACHE_SECONDS)


def readiness_report() -> tuple[bool, dict[str, str]]:
    """(ready, {component: ok | failing | not_configured | simulated}), cached briefly."""
    return _report.get()

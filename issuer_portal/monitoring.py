"""Endpoints for the platform: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from issuer_portal import health
from issuer_portal.core.metrics import render_metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No I/O, so a slow database never restarts the pod."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency answers (cached for a few seconds per process)."""
    ready, checks = health.readiness_report()
    return JsonResponse(
        {
            "status": "ok" if ready else "failing",
            "checks": checks,
            # Which broker the checks reached (redis, amqp), never where: this answer is public.
            "broker_transport": health.broker_transport(),
        },
        status=200 if ready else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the monitoring system only: bearer METRICS_TOKEN, else 404."""
    expected = f"Bearer {settings.METRICS_TOKEN}"
    given = request.headers.get("Authorization", "")
    if not settings.METRICS_TOKEN or not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse(status=404)
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")

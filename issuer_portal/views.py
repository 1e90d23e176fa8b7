"""Cardholder-facing pages. Thin: reads go through selectors, writes through services."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from issuer_portal import health, selectors
from issuer_portal.domain_errors import error_body
from provisioning.services import cards_on_offer
from tokens.services import wallet_state_for_card


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:card-list")


@never_cache
@login_required
@require_GET
def card_list(request: HttpRequest) -> HttpResponse:
    cardholder = selectors.cardholder_for_user(request.user)
    states = cards_on_offer(cardholder=cardholder, channel="web")
    return render(
        request,
        "portal/card_list.html",
        {"cardholder": cardholder, "cards": [(state.card, state) for state in states]},
    )


@never_cache
@login_required
@require_GET
def card_detail(request: HttpRequest, card_id: uuid.UUID) -> HttpResponse:
    cardholder = selectors.cardholder_for_user(request.user)
    card = selectors.card_for_cardholder(cardholder, card_id)
    state = wallet_state_for_card(card)
    return render(
        request,
        "portal/card_detail.html",
        {"cardholder": cardholder, "card": card, "state": state},
    )


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
        {"status": "ok" if ready else "failing", "checks": checks},
        status=200 if ready else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for the monitoring system only: bearer METRICS_TOKEN, else 404."""
    import hmac

    from django.conf import settings

    from issuer_portal.metrics import render_metrics

    expected = f"Bearer {settings.METRICS_TOKEN}"
    given = request.headers.get("Authorization", "")
    if not settings.METRICS_TOKEN or not hmac.compare_digest(given.encode(), expected.encode()):
        return HttpResponse(status=404)
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _api_error(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse | None:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return None


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404s under /api/ keep the API's error shape (e.g. a card id that is not a UUID)."""
    return _api_error(request, 404, "not_found", "Not found.") or defaults.page_not_found(
        request, exception
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _api_error(
        request, 500, "server_error", "Something went wrong on our side."
    ) or defaults.server_error(request)

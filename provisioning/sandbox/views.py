"""The sandbox's "Vipps app": where a universal link lands in the demo and in tests.

Confirming (a simulated 3-D Secure step) creates the token in the token simulator, as Vipps would
at the real token service, then sends the user to the return URL.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from issuer_portal.cards.models import WALLET_BRAND_BY_COUNTRY, Card, Country
from provisioning.sandbox.server import LINK_SALT
from tokens.models import CardToken, TokenRequestor
from tokens.simulator import add_simulated_token


class _ReturnRedirect(HttpResponseRedirect):
    allowed_schemes = ["https", "http"]


def _return_allowed(url: str | None) -> bool:
    return bool(url) and (
        url.startswith(f"{settings.PUBLIC_BASE_URL}/") or url in settings.APP_RETURN_URLS
    )


def _trid(card: Card, kind: str, label: str = "") -> str:
    requestor = (
        TokenRequestor.objects.filter(network=card.network, kind=kind, status="active")
        .filter(label__istartswith=label)
        .order_by("-updated_at")
        .first()
    )
    if requestor is None:
        raise Http404("no active TRID for this card in the registry")
    return requestor.trid


@never_cache
@require_http_methods(["GET", "POST"])
def app(request: HttpRequest) -> HttpResponse:
    try:
        data = signing.loads(request.GET.get("t", ""), salt=LINK_SALT, max_age=3600)
    except signing.BadSignature:
        raise Http404 from None
    card = Card.objects.select_related("cardholder").filter(pan_hmac=data["h"]).first()
    if card is None:
        raise Http404
    brand = WALLET_BRAND_BY_COUNTRY[Country(data["c"])].label
    if request.method == "POST":
        add_simulated_token(card=card, trid=_trid(card, "ecom", brand))
        if _return_allowed(data.get("r")):
            return _ReturnRedirect(data["r"])
        return render(request, "sandbox/done.html", {"brand": brand, "card": card})
    return render(request, "sandbox/app.html", {"brand": brand, "card": card, "nfc": False})


@never_cache
@require_http_methods(["GET", "POST"])
def nfc(request: HttpRequest) -> HttpResponse:
    reference = request.GET.get("token-reference", "")
    token = (
        CardToken.objects.select_related("card__cardholder")
        .filter(token_reference=reference)
        .first()
    )
    if token is None:
        raise Http404
    card = token.card
    if request.GET.get("last4") != card.last4 or request.GET.get("expiry") != card.expiry:
        raise Http404
    brand = card.cardholder.wallet_brand.label
    if request.method == "POST":
        add_simulated_token(card=card, trid=_trid(card, "nfc"), device_name="Sandbox phone")
        return_url = request.GET.get("return-url")
        if _return_allowed(return_url):
            return _ReturnRedirect(return_url)
        return render(request, "sandbox/done.html", {"brand": brand, "card": card})
    return render(request, "sandbox/app.html", {"brand": brand, "card": card, "nfc": True})

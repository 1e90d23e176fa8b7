"""The cardholder's devices: pause, resume or remove a phone on one card, and "I lost my
phone" on every card. Each change is a POST after a confirmation page, needs a recent sign-in,
and ends on a page that says what happened and what to do next."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from issuer_portal.cards import selectors
from issuer_portal.core.domain_errors import DomainError
from issuer_portal.core.step_up import ask_to_confirm_identity, authenticated_recently
from tokens import lifecycle
from tokens.models import Actor, ChangeReason, TokenAction, TokenChange
from tokens.selectors import devices_of, token_view

# What a cardholder may give as the reason, per change, in their words.
CARDHOLDER_REASONS = {
    TokenAction.SUSPEND: [
        (ChangeReason.DEVICE_LOST, _("I lost this phone (I may find it again)")),
        (ChangeReason.CARDHOLDER_REQUEST, _("I want to pause it for now")),
    ],
    TokenAction.DELETE: [
        (ChangeReason.DEVICE_LOST, _("I lost this phone")),
        (ChangeReason.DEVICE_STOLEN, _("It was stolen")),
        (ChangeReason.CARDHOLDER_REQUEST, _("I no longer use it")),
    ],
    TokenAction.RESUME: [(ChangeReason.CARDHOLDER_REQUEST, _("I want to use it again"))],
}
LOST_PHONE_CHANGES = "lost_phone_changes"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_device(
    request: HttpRequest, card_id: uuid.UUID, token_id: uuid.UUID, action: str
) -> HttpResponse:
    card = selectors.card_of_user(request.user, card_id)
    view = token_view(card, token_id, viewer=Actor.CARDHOLDER)
    if view is None or action not in CARDHOLDER_REASONS:
        raise Http404
    if not authenticated_recently(request):
        return ask_to_confirm_identity(request, request.path)
    reasons = CARDHOLDER_REASONS[TokenAction(action)]
    context = {"card": card, "view": view, "action": action, "reasons": reasons}
    if action not in view.actions:
        context["refusal"] = (
            lifecycle.UNDER_WAY
            if view.pending
            else lifecycle.refusal_for(view.token, TokenAction(action))
        )
        return render(request, "portal/device_change.html", context, status=409)
    if request.method == "GET":
        return render(request, "portal/device_change.html", context)
    reason = request.POST.get("reason", "")
    if reason not in {value for value, _label in reasons}:
        context["error"] = _("Choose why, then confirm.")
        return render(request, "portal/device_change.html", context, status=400)
    try:
        change = lifecycle.request_token_change(
            token=view.token,
            action=action,
            reason=reason,
            actor=Actor.CARDHOLDER,
            user=request.user,
            try_now=True,
        )
    except DomainError as refused:
        context["refusal"] = refused.message
        return render(request, "portal/device_change.html", context, status=409)
    return HttpResponseRedirect(
        reverse("portal:device-change-result", args=[card.public_id, change.public_id])
    )


@never_cache
@login_required
def change_result(request: HttpRequest, card_id: uuid.UUID, change_id: uuid.UUID) -> HttpResponse:
    card = selectors.card_of_user(request.user, card_id)
    change = (
        TokenChange.objects.filter(card=card, public_id=change_id).select_related("token").first()
    )
    if change is None:
        raise Http404
    return render(request, "portal/device_change_result.html", {"card": card, "change": change})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def lost_phone(request: HttpRequest) -> HttpResponse:
    """Pick one phone; it is paused on every card of the cardholder."""
    if not authenticated_recently(request):
        return ask_to_confirm_identity(request, request.path)
    cards = selectors.cardholder_with_cards(request.user)[1]
    devices = devices_of(cards, viewer=Actor.CARDHOLDER)
    context = {"devices": devices}
    if request.method == "GET":
        return render(request, "portal/lost_phone.html", context)
    device_id = request.POST.get("device", "")
    if device_id not in devices:
        context["error"] = _("Choose the phone you lost, then confirm.")
        return render(request, "portal/lost_phone.html", context, status=400)
    changes = lifecycle.pause_device_everywhere(cards=cards, device_id=device_id, user=request.user)
    request.session[LOST_PHONE_CHANGES] = {
        "device": devices[device_id][0].token.device_name,
        "changes": [str(change.public_id) for change in changes],
    }
    return HttpResponseRedirect(reverse("portal:lost-phone-result"))


@never_cache
@login_required
def lost_phone_result(request: HttpRequest) -> HttpResponse:
    cardholder = selectors.cardholder_for_user(request.user)
    noted = request.session.get(LOST_PHONE_CHANGES) or {"device": "", "changes": []}
    changes = list(
        TokenChange.objects.filter(
            public_id__in=noted["changes"], card__cardholder=cardholder
        ).select_related("card")
    )
    return render(
        request,
        "portal/lost_phone_result.html",
        {"device_name": noted["device"], "changes": changes},
    )

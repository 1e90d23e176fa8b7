"""The cardholder's card list and card page. Thin: reads go through selectors and services."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from issuer_portal.cards import selectors
from provisioning.services import cards_on_offer
from tokens.services import wallet_state_for_card
from tokens.status import CardWalletState, NextAction, WalletStatus


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:card-list")


@never_cache
@login_required
@require_GET
def card_list(request: HttpRequest) -> HttpResponse:
    cardholder = selectors.cardholder_for_user(request.user)
    states = sorted(cards_on_offer(cardholder=cardholder, channel="web"), key=_actions_first)
    return render(
        request,
        "portal/card_list.html",
        {
            "cardholder": cardholder,
            "cards": [(state.card, state) for state in states],
            # One notice for the page instead of the same sentence on every card.
            "status_unavailable": any(s.status == WalletStatus.UNKNOWN for s in states),
        },
    )


def _actions_first(state: CardWalletState) -> int:
    """Cards the cardholder can add come first, then contactless set-up, then the rest."""
    if state.next_action == NextAction.PUSH_PROVISION:
        return 0
    if state.next_action == NextAction.NFC_ENROLL and not state.action_is_secondary:
        return 1
    return 2


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

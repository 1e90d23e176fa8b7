"""The cardholder's card list and card page. Thin: reads go through selectors and services."""

from __future__ import annotations

import hashlib
import uuid

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
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
            "rows": card_rows(request, states),
            # One notice for the page instead of the same sentence on every card.
            "status_unavailable": any(s.status == WalletStatus.UNKNOWN for s in states),
        },
    )


# Bump when _card_row.html (or what it includes) changes, so no old row outlives a deploy.
CARD_ROW_VERSION = 1
CARD_ROW_SECONDS = 300


def card_rows(request: HttpRequest, states: list[CardWalletState]) -> list[str]:
    """Each card's row of the list: from the cache in one round trip, rendered only when the
    card, its wallet state, the language or the CSRF secret of the browser changed.

    The rows hold the "Add" forms, hence the CSRF secret in the key: a token of the cookie's
    secret is valid however often it is sent, and a new sign-in (a new secret) renders anew.
    """
    get_token(request)  # the secret exists from here on
    secret = hashlib.sha256(request.META["CSRF_COOKIE"].encode()).hexdigest()[:16]
    keys = [_card_row_key(state, get_language(), secret) for state in states]
    cached = cache.get_many(keys)
    rows, rendered = [], {}
    for key, state in zip(keys, states, strict=True):
        row = cached.get(key)
        if row is None:
            row = rendered[key] = render_to_string(
                "portal/_card_row.html", {"card": state.card, "state": state}, request
            )
        rows.append(mark_safe(row))  # noqa: S308 - rendered by the template engine above
    if rendered:
        cache.set_many(rendered, timeout=CARD_ROW_SECONDS)
    return rows


def _card_row_key(state: CardWalletState, language: str, secret: str) -> str:
    card = state.card
    shown = (
        card.nickname,
        card.product,
        card.network,
        card.last4,
        card.expiry,
        card.display_state,
        card.cardholder.wallet_brand,
        state.status,
        state.next_action,
        state.action_is_secondary,
        state.reason,
    )
    digest = hashlib.sha256(repr(shown).encode()).hexdigest()[:24]
    return f"web:card-row:v{CARD_ROW_VERSION}:{language}:{secret}:{card.public_id}:{digest}"


def _actions_first(state: CardWalletState) -> int:
    """Cards the cardholder can add come first, then contactless set-up, then the rest."""
    if state.next_action == NextAction.PUSH_PROVISION:
        return 0
    if state.contactless_is_next:
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

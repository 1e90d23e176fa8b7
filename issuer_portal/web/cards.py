"""The cardholder's card list and card page. Thin: reads go through selectors and services."""

from __future__ import annotations

import functools
import hashlib
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles.storage import staticfiles_storage
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
from issuer_portal.cards.list_version import card_list_version_key, new_card_list_version
from issuer_portal.cards.models import Cardholder
from issuer_portal.core.after_answer import Work
from issuer_portal.core.local_time import today
from issuer_portal.web.after_sending import PageThenWork
from provisioning.services import cards_on_offer
from tokens.models import TRID_REGISTRY_CACHE_KEY, Actor
from tokens.selectors import token_views
from tokens.services import wallet_state_for_card
from tokens.status import CardWalletState, NextAction, WalletStatus


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:card-list")


@never_cache
@login_required
@require_GET
def card_list(request: HttpRequest) -> HttpResponse:
    kept = KeptCardList.for_request(request)
    if kept is not None and (html := kept.fresh_html()) is not None:
        return HttpResponse(html)
    # The page does not depend on the writes behind it (what the lookups found, the offers,
    # the page kept for the next request): they are made once it has gone.
    after_sending: list[Work] = []
    cardholder, cards = selectors.cardholder_with_cards(request.user)
    on_offer = cards_on_offer(cards=cards, channel="web", write_after=after_sending.append)
    states = sorted(on_offer, key=_actions_first)
    status_unavailable = any(s.status == WalletStatus.UNKNOWN for s in states)
    row_keys = card_row_keys(request, states)
    same_page_key = html = None
    if kept is not None and cardholder is not None and not status_unavailable:
        # The statuses were looked up anew, and mostly nothing moved: the same page again.
        same_page_key = _page_key(request, cardholder, row_keys)
        html = cache.get(same_page_key)
    if html is None:
        html = render_to_string(
            "portal/card_list.html",
            {
                "cardholder": cardholder,
                "rows": card_rows(request, states, row_keys),
                # One notice for the page instead of the same sentence on every card.
                "status_unavailable": status_unavailable,
            },
            request,
        )
        if same_page_key is not None:
            after_sending.append(
                functools.partial(cache.set, same_page_key, html, timeout=CARD_ROW_SECONDS)
            )
    response = PageThenWork(html, after_sending=after_sending)
    if kept is not None and same_page_key is not None:  # a page to keep
        after_sending.append(functools.partial(kept.keep, response.content))
    return response


# A card list page is kept this long at most, and served only while nothing it shows moved
# (the card-list version and the TRID registry it was rendered with are still current).
CARD_LIST_SECONDS = 10
CARD_LIST_VERSION = 1  # bump when card_list.html or base.html changes


class KeptCardList:
    """The rendered card list of one browser (user, language, CSRF secret) on one day."""

    def __init__(self, request: HttpRequest) -> None:
        secret = _csrf_secret_digest(request)  # the page's forms carry tokens of this secret
        self.key = (
            f"web:card-list:v{CARD_LIST_VERSION}:{request.user.pk}:{get_language()}:{secret}"
            f":{today().isoformat()}"
        )
        self.version_key = card_list_version_key(request.user.pk)
        found = cache.get_many([self.key, self.version_key, TRID_REGISTRY_CACHE_KEY])
        self.page = found.get(self.key)
        self.version = found.get(self.version_key)
        self.registry = found.get(TRID_REGISTRY_CACHE_KEY)
        self.user_id = request.user.pk

    @classmethod
    def for_request(cls, request: HttpRequest) -> KeptCardList | None:
        """None when this request's page is not to be kept: a query string (the language form
        sends it back), or messages waiting to be shown once."""
        if request.GET or len(messages.get_messages(request)):
            return None
        return cls(request)

    def fresh_html(self) -> bytes | None:
        if self.page is None or self.version is None or self.registry is None:
            return None
        version, generation, html = self.page
        if version != self.version or generation != self.registry.generation:
            return None
        return html

    def keep(self, html: bytes) -> None:
        """Keep the page under the version and registry read before it was rendered: if either
        moved while rendering, the page is not served."""
        if self.registry is None:
            return
        if self.version is None:
            new_card_list_version(self.user_id)  # this page may predate it: the next is kept
            return
        cache.set(
            self.key, (self.version, self.registry.generation, html), timeout=CARD_LIST_SECONDS
        )


# Bump when _card_row.html (or what it includes) changes, so no old row outlives a deploy.
CARD_ROW_VERSION = 1
CARD_ROW_SECONDS = 300


def card_row_keys(request: HttpRequest, states: list[CardWalletState]) -> list[str]:
    """The cache key of each card's row: what it shows, in which language, for which browser.

    The rows hold the "Add" forms, hence the CSRF secret in the key: a token of the cookie's
    secret is valid however often it is sent, and a new sign-in (a new secret) renders anew.
    """
    secret, language = _csrf_secret_digest(request), get_language()
    return [_card_row_key(state, language, secret) for state in states]


def card_rows(request: HttpRequest, states: list[CardWalletState], keys: list[str]) -> list[str]:
    """Each card's row of the list (``keys``: card_row_keys): from the cache in one round trip,
    rendered only when the card, its wallet state, the language or the CSRF secret of the
    browser changed."""
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


def _page_key(request: HttpRequest, cardholder: Cardholder, row_keys: list[str]) -> str:
    """The key of a card list page by everything it shows: its rows (each card and its state),
    the language, the browser's CSRF secret (the page's forms carry tokens of it), the
    cardholder's wallet brand, the page's address and what the deployment puts on every page
    (settings, static files' names)."""
    shown = (
        request.user.pk,
        get_language(),
        _csrf_secret_digest(request),
        request.path,
        cardholder.wallet_brand,
        _deployment(),
        *row_keys,
    )
    digest = hashlib.sha256(repr(shown).encode()).hexdigest()[:32]
    return f"web:card-page:v{CARD_LIST_VERSION}:{digest}"


def _deployment() -> str:
    """What base.html shows from this deployment: its settings and its static files' hashed
    names (a new image's pages do not link to an old one's files)."""
    return repr(
        (
            settings.ISSUER_NAME,
            settings.ISSUER_CONTACT,
            settings.THEME_STYLE,
            settings.LANGUAGES,
            getattr(staticfiles_storage, "manifest_hash", ""),
        )
    )


def _csrf_secret_digest(request: HttpRequest) -> str:
    """A digest of the browser's CSRF secret (made now if it has none), for cache keys of
    rendered forms: their tokens are valid for as long as the browser keeps that secret."""
    get_token(request)
    return hashlib.sha256(request.META["CSRF_COOKIE"].encode()).hexdigest()[:16]


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
    card = selectors.card_of_user(request.user, card_id)
    cardholder = card.cardholder
    state = wallet_state_for_card(card)  # also brings our copy of the tokens up to date
    views = token_views([card], viewer=Actor.CARDHOLDER)
    return render(
        request,
        "portal/card_detail.html",
        {
            "cardholder": cardholder,
            "card": card,
            "state": state,
            "views": views,
            "has_phones": any(view.token.device_id for view in views),
        },
    )

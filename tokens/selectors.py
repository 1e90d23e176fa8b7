"""Read queries over a card's tokens, for the card page, the API and staff."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain

from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card
from tokens.lifecycle import allowed_actions
from tokens.models import (
    Actor,
    CardToken,
    ChangeState,
    TokenAction,
    TokenChange,
    TokenNotification,
    TokenRequestor,
    TokenStatus,
    TridKind,
)


@dataclass
class TokenView:
    """One token as people see it: the card in the app (ecom) or a phone (nfc)."""

    token: CardToken
    kind: str  # "ecom" or "nfc"
    wallet: str  # the TRID's provider or platform label, e.g. Vipps, iOS
    pending: TokenChange | None
    actions: list[TokenAction] = field(default_factory=list)

    @property
    def platform(self) -> str:
        return self.wallet if self.kind == TridKind.NFC else ""

    @property
    def paused_by_bank(self) -> bool:
        return self.token.status == TokenStatus.SUSPENDED and self.token.changed_by in (
            Actor.BANK_STAFF,
            Actor.BANK_SYSTEM,
        )


def token_views(cards: Iterable[Card], *, viewer: Actor) -> list[TokenView]:
    """The live (not deleted) tokens of ``cards`` under known TRIDs, ecom first, each with
    its pending change and the actions ``viewer`` may take now. Three queries."""
    cards = list(cards)
    tokens = list(
        CardToken.objects.filter(card__in=cards)
        .exclude(status=TokenStatus.DELETED)
        .select_related("card__cardholder")
        .order_by("card_id", "device_name", "pk")
    )
    requestors = {
        r.trid: r for r in TokenRequestor.objects.filter(trid__in={t.trid for t in tokens})
    }
    pending = {
        change.token_id: change
        for change in TokenChange.objects.filter(token__in=tokens, state=ChangeState.PENDING)
    }
    views = []
    for token in tokens:
        requestor = requestors.get(token.trid)
        if requestor is None:
            continue  # another wallet's token: not ours to show or change
        waiting = pending.get(token.pk)
        views.append(
            TokenView(
                token=token,
                kind=requestor.kind,
                wallet=requestor.label,
                pending=waiting,
                actions=[] if waiting else allowed_actions(token, viewer),
            )
        )
    views.sort(key=lambda view: (view.token.card_id, view.kind != TridKind.ECOM))
    return views


def token_view(card: Card, token_id: object, *, viewer: Actor) -> TokenView | None:
    """One token of ``card`` by its public id, or None (someone else's looks the same)."""
    for view in token_views([card], viewer=viewer):
        if str(view.token.public_id) == str(token_id):
            return view
    return None


def devices_of(cards: Iterable[Card], *, viewer: Actor) -> dict[str, list[TokenView]]:
    """The phones holding any of ``cards``, by the service's device id, each with its tokens."""
    devices: dict[str, list[TokenView]] = {}
    for view in token_views(cards, viewer=viewer):
        if view.kind == TridKind.NFC and view.token.device_id:
            devices.setdefault(view.token.device_id, []).append(view)
    return devices


HISTORY_HEADERS = [_("when"), _("token reference"), _("what"), _("who"), _("reason")]


def token_history(tokens: list[CardToken]) -> list[tuple[str, str, str, str, str]]:
    """(when, masked reference, what, who, why) for the tokens' changes we asked for and the
    notifications the token service sent, newest first (at most 100); see HISTORY_HEADERS."""
    references = [t.token_reference for t in tokens]
    changes = TokenChange.objects.filter(token_reference__in=references)
    notifications = TokenNotification.objects.filter(token_reference__in=references)
    rows = chain(
        (
            (
                c.created_at,
                f"…{c.token_reference[-4:]}",
                f"{c.get_action_display()} ({c.get_state_display()})",
                f"{c.get_actor_display()}: {c.actor_label}",
                str(c.get_reason_display()),
            )
            for c in changes
        ),
        (
            (
                n.received_at,
                f"…{n.token_reference[-4:]}",
                f"{n.event_type} {n.get_status_display() if n.status else ''}".strip(),
                str(_("Token service notification")),
                "—",
            )
            for n in notifications
        ),
    )
    newest = sorted(rows, key=lambda row: row[0], reverse=True)[:100]
    return [(_when(at), *rest) for at, *rest in newest]


def _when(at: datetime.datetime) -> str:
    return date_format(localtime(at), "DATETIME_FORMAT")

"""Read queries over a card's tokens, for the card page, the API and staff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from issuer_portal.cards.models import Card
from tokens.lifecycle import allowed_actions
from tokens.models import (
    Actor,
    CardToken,
    ChangeState,
    TokenAction,
    TokenChange,
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

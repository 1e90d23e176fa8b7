"""Django admin for bank staff: cardholders and cards, never a full PAN or NIN.

Cards and cardholders arrive from the card-management feed (``import_cards``), so admin cannot add
them and never renders an input for a PAN or NIN; it edits only the harmless fields.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card, Cardholder
from issuer_portal.core.admin_mixins import (
    CardDataSearchGuardMixin,
    html_table,
)
from tokens.models import CardToken, TokenRequestor, TokenStatus, TokenType
from tokens.selectors import HISTORY_HEADERS, token_history
from tokens.services import refresh_wallet_states, wallet_state_for_card
from tokens.status import masked_reference


class CardInline(admin.TabularInline):
    model = Card
    fields = ("masked_pan", "network", "product", "nickname", "expiry", "state")
    readonly_fields = ("masked_pan", "network", "product", "expiry")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description=_("card number"))
    def masked_pan(self, obj: Card) -> str:
        return obj.masked_pan


@admin.register(Cardholder)
class CardholderAdmin(CardDataSearchGuardMixin, admin.ModelAdmin):
    list_display = ("full_name", "username", "country", "wallet_brand", "masked_nin", "card_count")
    list_filter = ("country",)
    search_fields = ("user__username", "full_name", "cards__last4")
    fields = ("full_name", "username", "country", "masked_nin", "birth_date", "public_id")
    readonly_fields = ("username", "country", "masked_nin", "birth_date", "public_id")
    inlines = [CardInline]
    list_select_related = ("user",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cardholder]:
        return super().get_queryset(request).annotate(card_total=Count("cards"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("username"), ordering="user__username")
    def username(self, obj: Cardholder) -> str:
        return obj.user.get_username()

    @admin.display(description=_("national identity number"))
    def masked_nin(self, obj: Cardholder) -> str:
        return obj.masked_nin

    @admin.display(description=_("wallet"))
    def wallet_brand(self, obj: Cardholder) -> str:
        return obj.wallet_brand.label

    @admin.display(description=_("cards"), ordering="card_total")
    def card_count(self, obj: Cardholder) -> int:
        return obj.card_total


@admin.register(Card)
class CardAdmin(CardDataSearchGuardMixin, admin.ModelAdmin):
    list_display = (
        "masked_pan",
        "network",
        "product",
        "nickname",
        "cardholder",
        "expiry",
        "display_state",
    )
    list_filter = ("network", "state", "cardholder__country")
    search_fields = ("last4", "cardholder__user__username", "cardholder__full_name")
    list_select_related = ("cardholder",)
    fields = (
        "masked_pan",
        "network",
        "cardholder",
        "expiry",
        "product",
        "nickname",
        "state",
        "public_id",
        "wallet_status",
        "tokens_and_history",
        "attempts_link",
    )
    readonly_fields = (
        "masked_pan",
        "network",
        "cardholder",
        "expiry",
        "public_id",
        "wallet_status",
        "tokens_and_history",
        "attempts_link",
    )
    actions = ["refresh_token_status"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("wallet status"))
    def wallet_status(self, obj: Card) -> str:
        """Tokens per TRID as the token service reports them now (references masked)."""
        from django.utils.html import format_html, format_html_join

        state = wallet_state_for_card(obj)
        labels = {
            r.trid: f"{r.trid} {r.label} ({r.kind}, {r.status})"
            for r in TokenRequestor.objects.all()
        }
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    labels.get(t.trid, t.trid),
                    masked_reference(t.token_reference),
                    TokenStatus(t.status).label,
                    TokenType(t.token_type).label,
                    t.device_name or "—",
                )
                for t in state.tokens
            ),
        )
        return format_html(
            "<p><strong>{}</strong>{}</p><table><thead><tr><th>TRID</th><th>{}</th><th>{}</th>"
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            state.status_label,
            f" — {state.reason_text}" if state.reason_text else "",
            _("token reference"),
            _("status"),
            _("type"),
            _("device"),
            rows,
        )

    @admin.display(description=_("tokens and their history"))
    def tokens_and_history(self, obj: Card) -> str:
        """Each token with its device and status (its page has the actions), then every change
        and notification, newest first."""
        from django.urls import reverse
        from django.utils.html import format_html

        tokens = list(CardToken.objects.filter(card=obj).order_by("device_name", "pk"))
        if not tokens:
            return "—"
        listing = html_table(
            [_("token reference"), _("device"), _("status"), _("changed by")],
            [
                (
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:tokens_cardtoken_change", args=[t.pk]),
                        masked_reference(t.token_reference),
                    ),
                    t.device_name or "—",
                    t.get_status_display(),
                    t.get_changed_by_display() or "—",
                )
                for t in tokens
            ],
        )
        history = html_table(HISTORY_HEADERS, token_history(tokens), empty=_("No changes yet."))
        return format_html("{}<h4>{}</h4>{}", listing, _("Status history"), history)

    @admin.display(description=_("provisioning attempts"))
    def attempts_link(self, obj: Card) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        url = reverse("admin:provisioning_provisioningattempt_changelist")
        return format_html('<a href="{}?card__id__exact={}">{}</a>', url, obj.pk, _("Show"))

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("cards.refresh_card")

    @admin.action(
        description=_("Refresh token status from the token service"), permissions=["refresh"]
    )
    def refresh_token_status(self, request: HttpRequest, queryset: QuerySet[Card]) -> None:
        states = refresh_wallet_states(cards=queryset.select_related("cardholder"))
        unknown = sum(1 for s in states if s.status == "unknown")
        messages.success(request, _("%(count)d cards refreshed.") % {"count": len(states)})
        if unknown:
            messages.warning(request, _("%(count)d could not be checked now.") % {"count": unknown})

    @admin.display(description=_("card number"), ordering="last4")
    def masked_pan(self, obj: Card) -> str:
        return obj.masked_pan

    @admin.display(description=_("state"))
    def display_state(self, obj: Card) -> str:
        return obj.display_state_label

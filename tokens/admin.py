"""Bank staff edit the TRID registry; tokens and notifications are read-only records."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from issuer_portal.core.admin_mixins import ReadOnlyAdminMixin
from tokens.models import CardToken, TokenNotification, TokenRequestor
from tokens.status import masked_reference


@admin.register(TokenRequestor)
class TokenRequestorAdmin(admin.ModelAdmin):
    list_display = ("trid", "network", "kind", "label", "status", "updated_at")
    list_filter = ("network", "kind", "status")
    search_fields = ("trid", "label")
    list_editable = ("status",)

    def get_changelist_form(self, request: HttpRequest, **kwargs: object) -> type[forms.ModelForm]:
        base = super().get_changelist_form(request, **kwargs)

        class NamedStatusForm(base):
            """Each row's status select says whose status it is (screen readers read no header)."""

            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, **kwargs)
                self.fields["status"].widget.attrs["aria-label"] = _("Status of TRID %(trid)s") % {
                    "trid": self.instance.trid
                }

        return NamedStatusForm


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


class MaskedReferenceMixin:
    @admin.display(description=_("token reference"))
    def reference(self, obj: CardToken | TokenNotification) -> str:
        return masked_reference(obj.token_reference)


@admin.register(CardToken)
class CardTokenAdmin(MaskedReferenceMixin, ReadOnlyAdmin):
    list_display = (
        "card",
        "reference",
        "trid",
        "status",
        "token_type",
        "device_name",
        "updated_at",
    )
    list_filter = ("status", "token_type", "trid")
    search_fields = ("card__last4", "card__cardholder__user__username")
    list_select_related = ("card",)
    fields = ("card", "reference", "trid", "status", "token_type", "device_name", "updated_at")
    readonly_fields = fields


@admin.register(TokenNotification)
class TokenNotificationAdmin(MaskedReferenceMixin, ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "event_id", "reference", "trid", "card", "outcome")
    list_filter = ("event_type", "outcome")
    search_fields = ("event_id",)
    list_select_related = ("card",)
    fields = ("received_at", "event_type", "event_id", "reference", "trid", "card", "outcome")
    readonly_fields = fields

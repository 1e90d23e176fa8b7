"""Bank staff edit the TRID registry and see every token with its history; Operations suspend,
resume or delete a token with a reason and a confirmation (Support sees, never acts)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from issuer_portal.core.admin_mixins import ReadOnlyAdminMixin, html_table
from issuer_portal.core.domain_errors import DomainError
from tokens import lifecycle
from tokens.models import (
    Actor,
    CardEvent,
    CardToken,
    ChangeReason,
    TokenAction,
    TokenChange,
    TokenNotification,
    TokenRequestor,
)
from tokens.selectors import HISTORY_HEADERS, token_history
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


class TokenChangeForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *ChangeReason.choices])
    confirm = forms.BooleanField(
        label=_("I have checked this is the right token, and the cardholder was told if needed.")
    )


def history_table(tokens: list[CardToken]) -> str:
    return html_table(HISTORY_HEADERS, token_history(tokens), empty=_("No changes yet."))


@admin.register(CardToken)
class CardTokenAdmin(MaskedReferenceMixin, ReadOnlyAdmin):
    list_display = (
        "card",
        "reference",
        "trid",
        "status",
        "token_type",
        "device_name",
        "changed_by",
        "updated_at",
    )
    list_filter = ("status", "token_type", "changed_by", "trid")
    search_fields = ("card__last4", "card__cardholder__user__username", "device_name")
    list_select_related = ("card",)
    fields = (
        "card",
        "reference",
        "trid",
        "status",
        "status_since",
        "changed_by",
        "change_reason",
        "token_type",
        "device_name",
        "device_id",
        "updated_at",
        "staff_actions",
        "history",
    )
    readonly_fields = fields

    def get_urls(self) -> list:
        return [
            path(
                "<int:token_pk>/change-status/<str:action>/",
                self.admin_site.admin_view(self.change_status_view),
                name="tokens_cardtoken_change_status",
            ),
            *super().get_urls(),
        ]

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("tokens.change_token_status")

    def get_fields(self, request: HttpRequest, obj: CardToken | None = None) -> tuple:
        """Support sees the token and its history, never the actions."""
        if self.has_change_status_permission(request):
            return self.fields
        return tuple(name for name in self.fields if name != "staff_actions")

    @admin.display(description=_("actions"))
    def staff_actions(self, obj: CardToken) -> str:
        allowed = lifecycle.allowed_actions(obj, Actor.BANK_STAFF)
        pending = obj.changes.filter(state="pending").first()
        if pending is not None:
            return _("A change is under way: %(action)s.") % {
                "action": pending.get_action_display()
            }
        if not allowed:
            return "—"
        return format_html_join(
            " ",
            '<a class="button" href="{}">{}</a>',
            (
                (
                    reverse("admin:tokens_cardtoken_change_status", args=[obj.pk, action]),
                    TokenAction(action).label,
                )
                for action in allowed
            ),
        )

    @admin.display(description=_("status history"))
    def history(self, obj: CardToken) -> str:
        return history_table([obj])

    def change_status_view(self, request: HttpRequest, token_pk: int, action: str) -> HttpResponse:
        """A confirmation page with a required reason; the POST makes the change (Operations)."""
        if not self.has_change_status_permission(request):
            raise PermissionDenied
        token = get_object_or_404(CardToken.objects.select_related("card"), pk=token_pk)
        if action not in (TokenAction.SUSPEND, TokenAction.RESUME, TokenAction.DELETE):
            raise PermissionDenied
        back = reverse("admin:tokens_cardtoken_change", args=[token.pk])
        form = TokenChangeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                change = lifecycle.request_token_change(
                    token=token,
                    action=action,
                    reason=form.cleaned_data["reason"],
                    actor=Actor.BANK_STAFF,
                    user=request.user,
                    try_now=True,
                )
            except DomainError as refused:
                messages.error(request, refused.message)
            else:
                report = {
                    "done": (messages.success, _("Done: the token is now %(status)s.")),
                    "pending": (
                        messages.warning,
                        _("The token service is not answering; the change is retried."),
                    ),
                    "failed": (messages.error, _("The token service refused the change.")),
                }[change.state]
                token.refresh_from_db()
                report[0](request, report[1] % {"status": token.get_status_display()})
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": _("%(action)s a token") % {"action": TokenAction(action).label},
            "token": token,
            "reference": masked_reference(token.token_reference),
            "action": TokenAction(action),
            "form": form,
            "back": back,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/tokens/change_status.html", context)


@admin.register(TokenChange)
class TokenChangeAdmin(MaskedReferenceMixin, ReadOnlyAdmin):
    list_display = ("created_at", "card", "reference", "action", "reason", "actor", "state")
    list_filter = ("action", "state", "actor", "reason")
    list_select_related = ("card",)
    fields = (
        "created_at",
        "card",
        "reference",
        "action",
        "reason",
        "actor",
        "actor_label",
        "state",
        "error_code",
        "tries",
        "finished_at",
    )
    readonly_fields = fields


@admin.register(CardEvent)
class CardEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_id", "kind", "card", "reason", "source", "token_changes")
    list_filter = ("kind", "source")
    search_fields = ("event_id",)
    list_select_related = ("card",)
    fields = (*list_display, "new_card")
    readonly_fields = fields


@admin.register(TokenNotification)
class TokenNotificationAdmin(MaskedReferenceMixin, ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "event_id", "reference", "trid", "card", "outcome")
    list_filter = ("event_type", "outcome")
    search_fields = ("event_id",)
    list_select_related = ("card",)
    fields = ("received_at", "event_type", "event_id", "reference", "trid", "card", "outcome")
    readonly_fields = fields

"""Admin for Vipps JWE keys (provisioning attempts get their own admin in the operations issue)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from issuer_portal.admin import CardDataSearchGuardMixin
from issuer_portal.models import WALLET_BRAND_BY_COUNTRY, AuditEntry, WalletBrand
from provisioning import services
from provisioning.models import ProvisioningAttempt, UpstreamCall, VippsJweKey


@admin.register(VippsJweKey)
class VippsJweKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "active", "valid_from", "valid_until", "updated_at")
    list_filter = ("active",)
    search_fields = ("kid",)


class UpstreamCallInline(admin.TabularInline):
    """The timeline of HTTP calls to Vipps: what staff quote to Vipps support."""

    model = UpstreamCall
    fields = ("started_at", "trace_id", "status_code", "error_code", "duration_ms", "outcome")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class BrandFilter(admin.SimpleListFilter):
    title = _("brand")
    parameter_name = "brand"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [(brand.value, brand.label) for brand in WalletBrand]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        countries = [c for c, b in WALLET_BRAND_BY_COUNTRY.items() if b == self.value()]
        return queryset.filter(cardholder__country__in=countries)


@admin.register(ProvisioningAttempt)
class ProvisioningAttemptAdmin(CardDataSearchGuardMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "created_at",
        "state",
        "card",
        "username",
        "channel",
        "error_code",
        "tries",
    )
    list_filter = (
        "state",
        ("created_at", admin.DateFieldListFilter),
        "card__network",
        BrandFilter,
        "channel",
        "error_code",
    )
    search_fields = (
        "=public_id",
        "=correlation_id",
        "cardholder__user__username",
        "=card__last4",
    )
    list_select_related = ("card", "cardholder__user")
    date_hierarchy = "created_at"
    inlines = [UpstreamCallInline]
    actions = ["retry_attempts", "cancel_attempts"]
    fields = (
        "public_id",
        "state",
        "card",
        "username",
        "channel",
        "correlation_id",
        "error_code",
        "tries",
        "created_at",
        "link_ready_at",
        "returned_at",
        "finished_at",
        "state_changes",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.retry_provisioningattempt")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.cancel_provisioningattempt")

    @admin.display(description=_("username"), ordering="cardholder__user__username")
    def username(self, obj: ProvisioningAttempt) -> str:
        return obj.cardholder.user.get_username()

    @admin.display(description=_("state changes"))
    def state_changes(self, obj: ProvisioningAttempt) -> str:
        entries = AuditEntry.objects.filter(correlation_id=str(obj.correlation_id)).order_by(
            "created_at", "id"
        )
        return (
            format_html_join(
                mark_safe("<br>"),
                "{} · {} · {} · {}",
                (
                    (f"{e.created_at:%Y-%m-%d %H:%M:%S}", e.action, e.outcome, e.actor_label)
                    for e in entries
                ),
            )
            or "—"
        )

    @admin.action(description=_("Retry the selected failed attempts"), permissions=["retry"])
    def retry_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.retry_failed_attempt, _("retried"))

    @admin.action(description=_("Cancel the selected pending attempts"), permissions=["cancel"])
    def cancel_attempts(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.cancel_pending_attempt, _("cancelled"))

    def _each(self, request: HttpRequest, queryset: QuerySet, operation: object, done: str) -> None:
        succeeded = 0
        for attempt in queryset:
            try:
                operation(attempt=attempt)
                succeeded += 1
            except services.ProvisioningError as error:
                messages.warning(request, f"{attempt.public_id}: {error.message}")
        if succeeded:
            messages.success(request, f"{succeeded} {done}")

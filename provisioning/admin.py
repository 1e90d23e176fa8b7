"""Admin for Vipps JWE keys (provisioning attempts get their own admin in the operations issue)."""

from __future__ import annotations

import datetime

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import WALLET_BRAND_BY_COUNTRY, WalletBrand
from issuer_portal.core.admin_mixins import CardDataSearchGuardMixin, ReadOnlyAdminMixin
from issuer_portal.core.domain_errors import DomainError
from issuer_portal.core.models import AuditEntry
from provisioning import services
from provisioning.analytics import STAGE_LABELS, funnel_report
from provisioning.certificates import EXPIRY_WARNING_DAYS, client_certificate
from provisioning.models import ProvisioningAttempt, UpstreamCall, VippsJweKey


@admin.register(VippsJweKey)
class VippsJweKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "active", "valid_from", "valid_until", "expiry_warning", "updated_at")
    list_filter = ("active",)
    search_fields = ("kid",)

    @admin.display(description=_("expiry"))
    def expiry_warning(self, obj: VippsJweKey) -> str:
        if obj.valid_until is None:
            return "—"
        days = (obj.valid_until - timezone.now()).days
        if days < 0:
            return str(_("expired"))
        if days < EXPIRY_WARNING_DAYS:
            return str(_("expires in %(days)d days") % {"days": days})
        return str(_("in %(days)d days") % {"days": days})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> object:
        soon = timezone.now() + datetime.timedelta(days=EXPIRY_WARNING_DAYS)
        for key in VippsJweKey.objects.filter(
            active=True, valid_until__isnull=False, valid_until__lt=soon
        ):
            messages.warning(
                request,
                _("Vipps JWE key %(kid)s stops being valid on %(date)s: add its successor.")
                % {"kid": key.kid, "date": f"{key.valid_until:%Y-%m-%d}"},
            )
        certificate = client_certificate()
        if certificate.problem:
            messages.error(
                request,
                _("Vipps client certificate: %(problem)s") % {"problem": certificate.problem},
            )
        else:
            level = messages.warning if certificate.expires_soon else messages.info
            level(
                request,
                _(
                    "Vipps client certificate: %(subject)s, issued by %(issuer)s, valid until "
                    "%(date)s (%(days)d days)."
                )
                % {
                    "subject": certificate.subject,
                    "issuer": certificate.issuer,
                    "date": f"{certificate.not_after:%Y-%m-%d}",
                    "days": certificate.days_left,
                },
            )
        return super().changelist_view(request, extra_context)


class UpstreamCallInline(admin.TabularInline):
    """The timeline of HTTP calls to Vipps: what staff quote to Vipps support."""

    @admin.display(description=_("what Vipps rejected"))
    def problems(self, obj: UpstreamCall) -> str:
        return format_html_join(mark_safe("<br>"), "{}", ((d,) for d in obj.details)) or "—"

    model = UpstreamCall
    fields = (
        "started_at",
        "trace_id",
        "status_code",
        "error_code",
        "duration_ms",
        "outcome",
        "problems",
    )
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


class ErrorCodeFilter(admin.SimpleListFilter):
    """The error codes that occur, and "no error" by name (not an empty, invisible link)."""

    title = _("error code")
    parameter_name = "error_code"
    NONE = "none"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        codes = (
            ProvisioningAttempt.objects.exclude(error_code="")
            .order_by("error_code")
            .values_list("error_code", flat=True)
            .distinct()
        )
        return [(self.NONE, _("No error")), *((code, code) for code in codes)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        return queryset.filter(error_code="" if self.value() == self.NONE else self.value())


@admin.register(ProvisioningAttempt)
class ProvisioningAttemptAdmin(CardDataSearchGuardMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
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
        ErrorCodeFilter,
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

    change_list_template = "admin/provisioning/provisioningattempt/change_list.html"

    def get_urls(self) -> list:
        from django.urls import path

        return [
            path(
                "funnel/",
                self.admin_site.admin_view(lambda request: funnel_view(self, request)),
                name="provisioning_funnel",
            ),
            *super().get_urls(),
        ]

    # The card page links here filtered by its card.
    extra_allowed_lookups = ("card__id__exact",)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.retry_provisioningattempt")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("provisioning.cancel_provisioningattempt")

    @admin.display(description=_("username"), ordering="cardholder__user__username")
    def username(self, obj: ProvisioningAttempt) -> str:
        return obj.cardholder.user.get_username()

    @admin.display(description=_("attempt"), ordering="public_id")
    def short_id(self, obj: ProvisioningAttempt) -> str:
        """The first 8 characters (the whole id is on the attempt's page and searchable)."""
        return format_html('<span title="{}">{}…</span>', obj.public_id, str(obj.public_id)[:8])

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
                    (
                        date_format(localtime(e.created_at), "DATETIME_FORMAT"),
                        e.get_action_display(),
                        e.outcome,
                        e.actor_label,
                    )
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
            except DomainError as error:
                messages.warning(request, f"{attempt.public_id}: {error.message}")
        if succeeded:
            messages.success(request, f"{succeeded} {done}")


def funnel_svg(report: object) -> str:
    """A horizontal bar per funnel stage, readable at a glance; text labels for screen readers."""
    stages = report.totals.stages()
    widest = max((count for _, count, _ in stages), default=0) or 1
    bar_height, gap, label_width, chart_width = 28, 10, 170, 420
    bars = []
    for index, (stage, count, rate) in enumerate(stages):
        y = index * (bar_height + gap)
        width = max(2, round(chart_width * count / widest)) if count else 0
        bars.append(
            format_html(
                '<text x="0" y="{}" class="funnel-label">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" class="funnel-bar stage-{}"></rect>'
                '<text x="{}" y="{}" class="funnel-value">{}{}</text>',
                y + 19,
                STAGE_LABELS[stage],
                label_width,
                y,
                width,
                bar_height,
                index,
                label_width + width + 6,
                y + 19,
                count,
                f" ({rate}%)" if rate is not None else "",
            )
        )
    height = len(stages) * (bar_height + gap)
    # The text alternative: every stage with its count, and the table below in full.
    summary = "; ".join(f"{STAGE_LABELS.get(stage, stage)}: {count}" for stage, count, _r in stages)
    return format_html(
        '<svg class="funnel-chart" role="img" viewBox="0 0 {} {}" width="100%" '
        'aria-labelledby="funnel-title" aria-describedby="funnel-totals">'
        '<title id="funnel-title">{}: {}</title>{}</svg>',
        label_width + chart_width + 120,
        height,
        _("Provisioning funnel"),
        summary,
        mark_safe("".join(bars)),  # noqa: S308 - each part escaped by format_html above
    )


TOKEN_CHANGE_LABELS = {
    "paused_by_cardholders": _("Phones paused by cardholders"),
    "removed_by_cardholders": _("Tokens removed by cardholders"),
    "resumed_by_cardholders": _("Phones resumed by cardholders"),
    "suspended_by_the_bank": _("Tokens suspended by the bank"),
    "deleted_by_the_bank": _("Tokens deleted by the bank"),
    "moved_to_reissued_cards": _("Tokens moved to reissued cards"),
}


def funnel_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> object:
    from django.core.exceptions import PermissionDenied
    from django.template.response import TemplateResponse

    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    today = timezone.localdate()
    try:
        start = datetime.date.fromisoformat(request.GET.get("start") or "")
    except ValueError:
        start = today - datetime.timedelta(days=13)
    try:
        end = datetime.date.fromisoformat(request.GET.get("end") or "")
    except ValueError:
        end = today
    if end < start or (end - start).days > 366:
        start, end = end - datetime.timedelta(days=13), end
    filters = {
        name: request.GET.get(name, "")
        for name in ("brand", "network", "channel")
        if request.GET.get(name, "")
        in {"", "vipps", "mobilepay", "visa", "mastercard", "web", "app"}
    }
    report = funnel_report(start=start, end=end, **filters)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Provisioning funnel"),
        "opts": model_admin.model._meta,
        "report": report,
        "chart": funnel_svg(report),
        "stage_labels": STAGE_LABELS,
        "filters": filters,
        "token_changes": [
            (TOKEN_CHANGE_LABELS[name], count) for name, count in report.token_changes.items()
        ],
        "splits": [
            (_("Brand"), report.by_brand),
            (_("Network"), report.by_network),
            (_("Channel"), report.by_channel),
        ],
    }
    return TemplateResponse(request, "admin/provisioning/funnel.html", context)

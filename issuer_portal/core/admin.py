"""The audit log in Django admin: read-only for everyone, exported as CSV by Operations."""

from __future__ import annotations

import csv
import datetime
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from issuer_portal.core.admin_mixins import ReadOnlyAdminMixin, spreadsheet_safe
from issuer_portal.core.audit import record_audit
from issuer_portal.core.local_time import local_day_bounds
from issuer_portal.core.models import AuditEntry

# The CSV export's columns, in order; the changelist shows the same but the two long ones.
EXPORT_COLUMNS = [
    "created_at",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "source_ip",
    "request_id",
    "correlation_id",
    "details",
]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only for everyone: the log cannot be edited or deleted here (nor in the ORM)."""

    list_display = tuple(
        column for column in EXPORT_COLUMNS if column not in ("request_id", "details")
    )
    list_filter = ("action", "outcome", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=correlation_id", "=object_id", "actor_label", "=request_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]
    change_list_template = "admin/core/auditentry/change_list.html"

    def get_urls(self) -> list:
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_csv),
                name="core_auditentry_export",
            ),
            *super().get_urls(),
        ]

    def export_csv(self, request: HttpRequest) -> HttpResponse:
        """CSV of the entries from ``start`` to ``end`` (inclusive dates), for Operations."""
        if not request.user.has_perm("core.export_auditentry"):
            raise PermissionDenied
        try:
            start = datetime.date.fromisoformat(request.GET.get("start", ""))
            end = datetime.date.fromisoformat(request.GET.get("end", ""))
        except ValueError:
            messages.error(request, _("Choose a start and an end date (YYYY-MM-DD)."))
            return HttpResponseRedirect("../")
        since, until = local_day_bounds(start, end)
        entries = AuditEntry.objects.filter(created_at__gte=since, created_at__lt=until).order_by(
            "created_at", "id"
        )

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def rows():
            yield writer.writerow(EXPORT_COLUMNS)
            for entry in entries.iterator(chunk_size=2000):
                yield writer.writerow(
                    spreadsheet_safe(cell)
                    for cell in [
                        entry.created_at.isoformat(),
                        entry.actor_label,
                        entry.action,
                        entry.object_type,
                        entry.object_id,
                        entry.outcome,
                        entry.source_ip or "",
                        entry.request_id,
                        entry.correlation_id,
                        json.dumps(entry.details),
                    ]
                )

        record_audit("audit.exported", details={"start": str(start), "end": str(end)})
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{start}-{end}.csv"'
        return response

"""Admin for Vipps JWE keys (provisioning attempts get their own admin in the operations issue)."""

from __future__ import annotations

from django.contrib import admin

from provisioning.models import VippsJweKey


@admin.register(VippsJweKey)
class VippsJweKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "active", "valid_from", "valid_until", "updated_at")
    list_filter = ("active",)
    search_fields = ("kid",)

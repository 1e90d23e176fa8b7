"""Django admin with our site class (imported before the app registry is ready: no models here)."""

from django.contrib.admin.apps import AdminConfig


class IssuerAdminConfig(AdminConfig):
    default_site = "issuer_portal.admin_site.IssuerAdminSite"

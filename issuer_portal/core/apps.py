from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Shared infrastructure; its only table is the security audit log."""

    name = "issuer_portal.core"
    label = "core"
    verbose_name = _("Security audit")

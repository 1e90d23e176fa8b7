from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuerPortalConfig(AppConfig):
    name = "issuer_portal"
    verbose_name = _("Cardholders and cards")

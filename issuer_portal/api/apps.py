from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """REST API for the bank's mobile app."""

    name = "issuer_portal.api"
    label = "api"
    verbose_name = _("Mobile app API")

    def ready(self) -> None:
        from issuer_portal.api import schema  # noqa: F401 - registers the OpenAPI auth extension

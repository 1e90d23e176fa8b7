from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuerPortalConfig(AppConfig):
    """The project itself: deploy checks, health probes and the demo seeding command."""

    name = "issuer_portal"
    verbose_name = _("Issuer portal")

    def ready(self) -> None:
        from issuer_portal import checks  # noqa: F401 - registers the deploy checks

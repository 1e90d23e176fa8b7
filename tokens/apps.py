from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TokensConfig(AppConfig):
    """Network tokens of each card at the token service (Visa VTS / Mastercard MDES)."""

    name = "tokens"
    verbose_name = _("Network tokens")

    def ready(self) -> None:
        from tokens.adapters import validate_configuration

        # An unknown or broken TOKEN_SERVICE_ADAPTER stops startup, not the first page view.
        validate_configuration()

        from issuer_portal.core.audit import audit_changes_of
        from tokens.models import TokenRequestor

        audit_changes_of(
            TokenRequestor, "tokens.trid_changed", ("trid", "network", "kind", "status")
        )

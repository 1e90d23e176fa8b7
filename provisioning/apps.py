from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    """Push provisioning of cards into Vipps / MobilePay."""

    name = "provisioning"
    verbose_name = _("Push provisioning")

    def ready(self) -> None:
        from provisioning.tasks import check_visibility_timeout

        check_visibility_timeout()

        from issuer_portal.audit import audit_changes_of
        from provisioning.models import VippsJweKey

        audit_changes_of(
            VippsJweKey,
            "provisioning.jwe_key_changed",
            ("kid", "active", "valid_from", "valid_until"),
        )

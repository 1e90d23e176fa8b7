from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    """Push provisioning of cards into Vipps / MobilePay."""

    name = "provisioning"
    verbose_name = _("Push provisioning")

    def ready(self) -> None:
        from issuer_portal.core.metrics import register_snapshot_collector
        from provisioning import signals
        from provisioning.metrics import ProvisioningOutcomeCollector
        from provisioning.tasks import check_visibility_timeout

        check_visibility_timeout()
        register_snapshot_collector(ProvisioningOutcomeCollector())
        signals.connect_receivers()

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    """Push provisioning of cards into Vipps / MobilePay."""

    name = "provisioning"
    verbose_name = _("Push provisioning")

    def ready(self) -> None:
        from issuer_portal.metrics import register_snapshot_collector
        from provisioning.metrics import ProvisioningOutcomeCollector
        from provisioning.tasks import check_visibility_timeout

        check_visibility_timeout()
        register_snapshot_collector(ProvisioningOutcomeCollector())

        from issuer_portal.audit import audit_changes_of
        from provisioning.models import VippsJweKey

        audit_changes_of(
            VippsJweKey,
            "provisioning.jwe_key_changed",
            ("kid", "active", "valid_from", "valid_until"),
        )

        from django.db.models.signals import post_save

        from issuer_portal.models import Card

        post_save.connect(
            _card_saved, sender=Card, weak=False, dispatch_uid="provisioning-card-saved"
        )


def _card_saved(sender: type, instance: object, created: bool, **kwargs: object) -> None:
    """A card blocked, expired or moved to another holder ends its pending attempts."""
    if created:
        return
    from provisioning.services import cancel_in_flight_attempts

    cancel_in_flight_attempts(instance)

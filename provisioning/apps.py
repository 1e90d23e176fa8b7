from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    """Push provisioning of cards into Vipps / MobilePay."""

    name = "provisioning"

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    """The bank's cardholders and cards, with card data encrypted at rest."""

    name = "issuer_portal.cards"
    label = "cards"
    verbose_name = _("Cardholders and cards")

    def ready(self) -> None:
        from issuer_portal.cards import list_version

        list_version.connect_receivers()

"""Token requestor IDs (TRIDs) and what we know of each card's network tokens."""

from __future__ import annotations

from django.core.cache import cache
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card
from issuer_portal.cards.pan import Network


class TridKind(models.TextChoices):
    ECOM = "ecom", _("E-commerce (card on file)")
    NFC = "nfc", _("Contactless (NFC)")


class TridStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DEPRECATED = "deprecated", _("Deprecated (ignored)")


class TokenStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    INACTIVE = "inactive", _("Inactive")
    DELETED = "deleted", _("Deleted")


class TokenType(models.TextChoices):
    CARD_ON_FILE = "card_on_file", _("Card on file")
    DEVICE = "device", _("Device (secure element or cloud)")
    UNKNOWN = "unknown", _("Unknown")


# The registry every card list reads, cached for all processes; any change drops it.
TRID_REGISTRY_CACHE_KEY = "tokens:trid-registry:v1"


def forget_trid_registry() -> None:
    cache.delete(TRID_REGISTRY_CACHE_KEY)


class TokenRequestorQuerySet(models.QuerySet):
    """Bulk changes drop the cached registry too (they send no save signals)."""

    def update(self, **kwargs: object) -> int:
        changed = super().update(**kwargs)
        forget_trid_registry()
        return changed

    def delete(self) -> tuple[int, dict[str, int]]:
        deleted = super().delete()
        forget_trid_registry()
        return deleted

    def bulk_create(self, *args: object, **kwargs: object) -> list:
        created = super().bulk_create(*args, **kwargs)
        forget_trid_registry()
        return created


class TokenRequestor(models.Model):
    """A Vipps / MobilePay token requester ID at one card network (the spec's TRID tables)."""

    trid = models.CharField(
        _("token requestor ID"),
        max_length=11,
        unique=True,
        validators=[RegexValidator(r"^\d{11}$", _("A TRID has 11 digits."))],
    )
    network = models.CharField(
        _("network"),
        max_length=16,
        choices=[
            (Network.VISA, Network.VISA.label),
            (Network.MASTERCARD, Network.MASTERCARD.label),
        ],
    )
    kind = models.CharField(_("kind"), max_length=8, choices=TridKind.choices)
    label = models.CharField(
        _("provider or platform"), max_length=60, help_text=_("e.g. Vipps, MobilePay, iOS")
    )
    status = models.CharField(
        _("status"), max_length=16, choices=TridStatus.choices, default=TridStatus.ACTIVE
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = TokenRequestorQuerySet.as_manager()

    class Meta:
        verbose_name = _("token requestor (TRID)")
        verbose_name_plural = _("token requestors (TRIDs)")
        ordering = ["network", "kind", "trid"]

    def __str__(self) -> str:
        return f"{self.trid} ({self.get_network_display()} {self.label}, {self.kind})"

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)
        forget_trid_registry()

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        forget_trid_registry()
        return deleted


class CardToken(models.Model):
    """Our copy of one network token of a card, as last reported by the token service.

    Kept so token notifications (which name a token, not a card) find their card, and so the
    NFC link can carry the ecom token's unique reference. The token service stays the truth.
    """

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="network_tokens")
    token_reference = models.CharField(_("token unique reference"), max_length=64, unique=True)
    trid = models.CharField(_("token requestor ID"), max_length=11)
    status = models.CharField(_("status"), max_length=16, choices=TokenStatus.choices)
    token_type = models.CharField(_("token type"), max_length=16, choices=TokenType.choices)
    device_name = models.CharField(_("device"), max_length=100, blank=True)
    upstream_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("network token")
        verbose_name_plural = _("network tokens")

    def __str__(self) -> str:
        return f"…{self.token_reference[-4:]} ({self.trid}, {self.status})"


class SimulatedToken(models.Model):
    """The token simulator's own store: stands in for VTS/MDES in the demo and tests."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="simulated_tokens")
    token_reference = models.CharField(max_length=64, unique=True)
    trid = models.CharField(max_length=11)
    status = models.CharField(
        max_length=16, choices=TokenStatus.choices, default=TokenStatus.ACTIVE
    )
    token_type = models.CharField(max_length=16, choices=TokenType.choices)
    device_name = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated token")
        verbose_name_plural = _("simulated tokens")
        constraints = [
            models.UniqueConstraint(fields=["card", "trid"], name="one_simulated_token_per_trid")
        ]

    def __str__(self) -> str:
        return f"…{self.token_reference[-4:]} ({self.trid}, {self.status})"


class TokenNotification(models.Model):
    """A token lifecycle event received from the token service; its id makes replays no-ops."""

    event_id = models.CharField(max_length=100, unique=True)
    event_type = models.CharField(max_length=40)
    token_reference = models.CharField(max_length=64)
    trid = models.CharField(max_length=11)
    card = models.ForeignKey(Card, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=20)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("token notification")
        verbose_name_plural = _("token notifications")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

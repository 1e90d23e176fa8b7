"""Cardholders and their cards: the bank's own data, with card data encrypted at rest."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.nin import birth_date_from_nin, masked_nin, normalize_nin
from issuer_portal.cards.pan import (
    SUPPORTED_NETWORKS,
    Network,
    expiry_last_day,
    masked_pan,
    network_for_pan,
    normalize_expiry,
    normalize_pan,
)
from issuer_portal.core import crypto
from issuer_portal.core.fields import EncryptedTextField
from issuer_portal.core.local_time import today
from issuer_portal.core.sensitive import SensitiveValue


class Country(models.TextChoices):
    NORWAY = "NO", _("Norway")
    DENMARK = "DK", _("Denmark")
    FINLAND = "FI", _("Finland")
    SWEDEN = "SE", _("Sweden")


class WalletBrand(models.TextChoices):
    VIPPS = "vipps", "Vipps"
    MOBILEPAY = "mobilepay", "MobilePay"


# One app, two brands: Vipps in Norway and Sweden, MobilePay in Denmark and Finland.
WALLET_BRAND_BY_COUNTRY = {
    Country.NORWAY: WalletBrand.VIPPS,
    Country.SWEDEN: WalletBrand.VIPPS,
    Country.DENMARK: WalletBrand.MOBILEPAY,
    Country.FINLAND: WalletBrand.MOBILEPAY,
}


class Cardholder(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cardholder"
    )
    full_name = models.CharField(_("full name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    nin = EncryptedTextField(_("national identity number"))
    nin_hmac = models.CharField(max_length=64, unique=True, editable=False)
    birth_date = models.DateField(_("date of birth"), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cardholder")
        verbose_name_plural = _("cardholders")

    def __str__(self) -> str:
        return self.full_name

    @staticmethod
    def nin_lookup_hash(country: str, number: str) -> str:
        return crypto.keyed_hash(f"nin:{country}", number)

    def set_nin(self, country: str, raw_nin: str | SensitiveValue) -> None:
        """Validate and set country, NIN, its lookup hash and the birth date it carries.

        Raises django.core.exceptions.ValidationError (message without the number).
        """
        if isinstance(raw_nin, SensitiveValue):
            raw_nin = raw_nin.reveal()
        number = normalize_nin(country, raw_nin)
        self.country = country
        self.nin = number
        self.nin_hmac = self.nin_lookup_hash(country, number)
        self.birth_date = birth_date_from_nin(country, number)

    @property
    def wallet_brand(self) -> WalletBrand:
        return WALLET_BRAND_BY_COUNTRY[Country(self.country)]

    @property
    def masked_nin(self) -> str:
        return masked_nin(self.country, self.nin.reveal()) if self.nin else ""

    def age_on(self, day: datetime.date) -> int:
        """Completed years on ``day``."""
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class CardState(models.TextChoices):
    ACTIVE = "active", _("Active")
    BLOCKED = "blocked", _("Blocked")
    CLOSED = "closed", _("Closed")


# A card in one of these states cannot be used, added or kept in a wallet.
UNUSABLE_STATES = (CardState.BLOCKED, CardState.CLOSED)


class Card(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cardholder = models.ForeignKey(Cardholder, on_delete=models.CASCADE, related_name="cards")
    pan = EncryptedTextField(_("card number"))
    pan_hmac = models.CharField(max_length=64, unique=True, editable=False)
    last4 = models.CharField(_("last four digits"), max_length=4, editable=False, db_index=True)
    network = models.CharField(_("network"), max_length=16, choices=Network.choices, editable=False)
    expiry = models.CharField(_("expiry (YYYY-MM)"), max_length=7)
    product = models.CharField(_("product"), max_length=100)
    nickname = models.CharField(_("nickname"), max_length=40, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=CardState.choices, default=CardState.ACTIVE
    )
    # A reissued card (new number and expiry) names the card it replaces: the wallet tokens of
    # that card move to this one.
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaced_by",
        verbose_name=_("replaces"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")
        ordering = ["created_at", "id"]
        permissions = [("refresh_card", "Can refresh a card's token status")]

    def __str__(self) -> str:
        return f"{self.get_network_display()} {masked_pan(self.last4)}"

    @staticmethod
    def pan_lookup_hash(pan: str) -> str:
        return crypto.keyed_hash("pan", pan)

    def set_pan(self, raw_pan: str | SensitiveValue) -> None:
        """Validate and set the PAN with its lookup hash, last4 and network.

        Raises django.core.exceptions.ValidationError (message without the number).
        """
        if isinstance(raw_pan, SensitiveValue):
            raw_pan = raw_pan.reveal()
        pan = normalize_pan(raw_pan)
        self.pan = pan
        self.pan_hmac = self.pan_lookup_hash(pan)
        self.last4 = pan[-4:]
        self.network = network_for_pan(pan)

    def set_expiry(self, raw_expiry: str) -> None:
        self.expiry = normalize_expiry(raw_expiry)

    @property
    def masked_pan(self) -> str:
        return masked_pan(self.last4)

    @property
    def network_supported(self) -> bool:
        return self.network in SUPPORTED_NETWORKS

    def is_expired(self, on: datetime.date | None = None) -> bool:
        return (on or today()) > expiry_last_day(self.expiry)

    @property
    def expiry_display(self) -> str:
        """MM/YY, as printed on the card."""
        return f"{self.expiry[5:7]}/{self.expiry[2:4]}"

    @property
    def display_state(self) -> str:
        """``blocked``, ``expired`` or ``active``: blocked wins (a closed card shows as blocked),
        expiry is derived from the date."""
        if self.state in UNUSABLE_STATES:
            return "blocked"
        return "expired" if self.is_expired() else "active"

    @property
    def display_state_label(self) -> str:
        return {
            "blocked": _("Blocked"),
            "expired": _("Expired"),
            "active": _("Active"),
        }[self.display_state]

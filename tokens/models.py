"""Token requestor IDs (TRIDs) and what we know of each card's network tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
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


class ChangeReason(models.TextChoices):
    """Why a token's status is changed: one list for every token service and every actor."""

    DEVICE_LOST = "device_lost", _("The device was lost")
    DEVICE_STOLEN = "device_stolen", _("The device was stolen")
    SUSPECTED_FRAUD = "suspected_fraud", _("Suspected fraud")
    CARDHOLDER_REQUEST = "cardholder_request", _("The cardholder asked")
    ACCOUNT_CLOSED = "account_closed", _("The card was closed")
    CARD_REISSUED = "card_reissued", _("The card was replaced")
    OTHER = "other", _("Other")


class Actor(models.TextChoices):
    """Who asked for a change."""

    CARDHOLDER = "cardholder", _("Cardholder")
    BANK_STAFF = "bank_staff", _("Bank staff")
    BANK_SYSTEM = "bank_system", _("Bank system")


class TokenAction(models.TextChoices):
    SUSPEND = "suspend", _("Pause")
    RESUME = "resume", _("Resume")
    DELETE = "delete", _("Remove")
    UPDATE_FUNDING_ACCOUNT = "update_funding_account", _("Move to the new card")


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

    # What the cardholder's pages, the API and staff name the token by (never its reference).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="network_tokens")
    token_reference = models.CharField(_("token unique reference"), max_length=64, unique=True)
    trid = models.CharField(_("token requestor ID"), max_length=11)
    status = models.CharField(_("status"), max_length=16, choices=TokenStatus.choices)
    token_type = models.CharField(_("token type"), max_length=16, choices=TokenType.choices)
    device_id = models.CharField(_("device id"), max_length=64, blank=True)
    device_name = models.CharField(_("device"), max_length=100, blank=True)
    upstream_updated_at = models.DateTimeField(null=True, blank=True)
    # Since when the token is in its status, and, for a change we made, who made it and why:
    # a token the bank suspended cannot be resumed by the cardholder.
    status_since = models.DateTimeField(_("in this status since"), null=True, blank=True)
    changed_by = models.CharField(_("changed by"), max_length=16, choices=Actor.choices, blank=True)
    change_reason = models.CharField(
        _("reason"), max_length=24, choices=ChangeReason.choices, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("network token")
        verbose_name_plural = _("network tokens")
        permissions = [("change_token_status", _("Can suspend, resume or delete a card's tokens"))]

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
    device_id = models.CharField(max_length=64, blank=True)
    device_name = models.CharField(max_length=100, blank=True)
    last_reason = models.CharField(max_length=24, choices=ChangeReason.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("simulated token")
        verbose_name_plural = _("simulated tokens")
        constraints = [
            # One token per TRID and device: two phones of one platform are two tokens.
            models.UniqueConstraint(
                fields=["card", "trid", "device_id"], name="one_simulated_token_per_trid_device"
            )
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
    status = models.CharField(max_length=16, choices=TokenStatus.choices, blank=True)
    outcome = models.CharField(max_length=20)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("token notification")
        verbose_name_plural = _("token notifications")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ChangeState(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class TokenChange(models.Model):
    """One change we asked the token service to make to one token: who, why, and how it ended.

    At most one change per token is pending at a time, so concurrent requests end in one
    consistent state with one call per change. The status history of a token is its changes
    and the notifications received for it.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    token = models.ForeignKey(CardToken, on_delete=models.CASCADE, related_name="changes")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="token_changes")
    # Kept when the token row goes (a reissued card's tokens move; a deleted one stays listed).
    token_reference = models.CharField(max_length=64)
    action = models.CharField(_("action"), max_length=24, choices=TokenAction.choices)
    reason = models.CharField(_("reason"), max_length=24, choices=ChangeReason.choices)
    actor = models.CharField(_("asked by"), max_length=16, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("who"), max_length=150, blank=True)
    # The card the token moves to (funding-account update only).
    new_card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(
        _("state"), max_length=16, choices=ChangeState.choices, default=ChangeState.PENDING
    )
    error_code = models.CharField(max_length=64, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When its queued retry is due; the sweeper requeues a retry that is this late and lost.
    retry_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("token change")
        verbose_name_plural = _("token changes")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["token"],
                condition=models.Q(state="pending"),
                name="one_pending_change_per_token",
            )
        ]
        # The funnel counts the changes finished in a period.
        indexes = [models.Index(fields=["state", "finished_at"], name="token_change_finished")]

    def __str__(self) -> str:
        return f"{self.action} …{self.token_reference[-4:]} ({self.state})"


class CardEvent(models.Model):
    """A card status change reported by the bank's card management system (or staff, by
    command): its id makes a replay a no-op; what it did to the tokens is in TokenChange."""

    event_id = models.CharField(max_length=100, unique=True)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)  # a card state (active, blocked, closed) or reissued
    new_card = models.ForeignKey(
        Card, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=24, choices=ChangeReason.choices, blank=True)
    source = models.CharField(max_length=20)  # command, import, api
    token_changes = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("card event")
        verbose_name_plural = _("card events")
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"

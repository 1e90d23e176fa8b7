"""Receivers that keep provisioning in step with the cards domain and the audit log."""

from __future__ import annotations

from django.db.models.signals import post_save

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import audit_changes_of
from provisioning.models import VippsJweKey
from provisioning.services import cancel_in_flight_attempts


def card_saved(sender: type, instance: Card, created: bool, **kwargs: object) -> None:
    """A card blocked, expired or moved to another holder ends its pending attempts."""
    if created:
        return
    cancel_in_flight_attempts(instance)


def connect_receivers() -> None:
    audit_changes_of(
        VippsJweKey,
        "provisioning.jwe_key_changed",
        ("kid", "active", "valid_from", "valid_until"),
    )
    post_save.connect(card_saved, sender=Card, dispatch_uid="provisioning-card-saved")

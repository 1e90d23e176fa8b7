"""Receivers that keep provisioning in step with the cards domain and the audit log."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import audit_changes_of
from provisioning.keys import forget_key_records
from provisioning.models import VippsJweKey
from provisioning.services import cancel_in_flight_attempts


def card_saved(sender: type, instance: Card, created: bool, **kwargs: object) -> None:
    """A card blocked, expired or moved to another holder ends its pending attempts."""
    if created:
        return
    cancel_in_flight_attempts(instance)


def jwe_key_changed(sender: type, **kwargs: object) -> None:
    """A key saved or deleted in admin is used from the next request of this process on (other
    processes read the keys again within KEY_RECORDS_SECONDS): forgotten at once, and again
    when the change commits, since a request in between may read the keys as they were."""
    forget_key_records()
    transaction.on_commit(forget_key_records)


def connect_receivers() -> None:
    audit_changes_of(
        VippsJweKey,
        "provisioning.jwe_key_changed",
        ("kid", "active", "valid_from", "valid_until"),
    )
    for signal in (post_save, post_delete):
        signal.connect(jwe_key_changed, sender=VippsJweKey, dispatch_uid="jwe-key-changed")
    post_save.connect(card_saved, sender=Card, dispatch_uid="provisioning-card-saved")

"""Response and request shapes of the API. Output only what the app needs: no PAN, NIN, JWE or
token references (the NFC link itself carries one, by design)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from provisioning.models import AttemptState, ProvisioningAttempt
from provisioning.services import user_message
from tokens.status import CardWalletState, NextAction, WalletStatus


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found.")
    message = serializers.CharField(help_text="A message that can be shown to the user.")
    details = serializers.JSONField(allow_null=True, help_text="Field errors or other context.")


class IneligibilitySerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["card_blocked", "card_expired", "network_not_supported", "too_young"]
    )
    message = serializers.CharField()


class CardSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="card.public_id")
    network = serializers.ChoiceField(
        choices=["visa", "mastercard", "other"], source="card.network"
    )
    brand = serializers.ChoiceField(choices=["vipps", "mobilepay"])
    product = serializers.CharField(source="card.product")
    nickname = serializers.CharField(source="card.nickname", allow_blank=True)
    last4 = serializers.RegexField(r"^\d{4}$", source="card.last4")
    expiry = serializers.RegexField(r"^\d{4}-\d{2}$", source="card.expiry")
    state = serializers.ChoiceField(choices=["active", "blocked", "expired"])
    walletStatus = serializers.ChoiceField(choices=[s.value for s in WalletStatus])
    eligible = serializers.BooleanField()
    ineligibility = IneligibilitySerializer(allow_null=True)
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=[a.value for a in NextAction])
    )
    nfcActionIsSecondary = serializers.BooleanField(
        help_text="True when an NFC token already exists (it may be on an old phone)."
    )

    def to_representation(self, state: CardWalletState) -> dict[str, Any]:
        card = state.card
        return {
            "id": str(card.public_id),
            "network": card.network,
            "brand": card.cardholder.wallet_brand.value,
            "product": card.product,
            "nickname": card.nickname,
            "last4": card.last4,
            "expiry": card.expiry,
            "state": card.display_state,
            "walletStatus": state.status.value,
            "eligible": state.eligible,
            "ineligibility": (
                {"code": state.reason.value, "message": state.reason_text} if state.reason else None
            ),
            "actions": [state.next_action.value] if state.next_action else [],
            "nfcActionIsSecondary": state.action_is_secondary,
        }


class ProvisioningRequestSerializer(serializers.Serializer):
    returnUrl = serializers.URLField(
        required=False,
        allow_null=True,
        max_length=2000,
        help_text="Where Vipps sends the user back: one of the bank app's registered URLs.",
    )

    def validate_returnUrl(self, value: str | None) -> str | None:
        if value and value not in settings.APP_RETURN_URLS:
            raise serializers.ValidationError("Not one of the app's registered return URLs.")
        return value


class AttemptSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=AttemptState.values)
    universalLink = serializers.URLField(allow_null=True)
    pollUrl = serializers.CharField()
    message = serializers.CharField()
    createdAt = serializers.DateTimeField()

    def to_representation(self, attempt: ProvisioningAttempt) -> dict[str, Any]:
        ready = attempt.state == AttemptState.LINK_READY
        return {
            "id": str(attempt.public_id),
            "state": attempt.state,
            "universalLink": attempt.universal_link if ready else None,
            "pollUrl": reverse("api:attempt", args=[attempt.public_id]),
            "message": user_message(attempt),
            "createdAt": attempt.created_at.isoformat(),
        }


class NfcLinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()

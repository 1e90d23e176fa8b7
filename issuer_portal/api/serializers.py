"""Response and request shapes of the API. Output only what the app needs: no PAN, NIN, JWE or
token references (the NFC link itself carries one, by design)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provisioning.models import AttemptState, ProvisioningAttempt
from provisioning.services import user_message
from tokens.selectors import TokenView
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
    """A card with its wallet state (a CardWalletState)."""

    id = serializers.UUIDField(source="card.public_id")
    network = serializers.ChoiceField(
        choices=["visa", "mastercard", "other"], source="card.network"
    )
    brand = serializers.ChoiceField(
        choices=["vipps", "mobilepay"], source="card.cardholder.wallet_brand.value"
    )
    product = serializers.CharField(source="card.product")
    nickname = serializers.CharField(source="card.nickname", allow_blank=True)
    last4 = serializers.RegexField(r"^\d{4}$", source="card.last4")
    expiry = serializers.RegexField(r"^\d{4}-\d{2}$", source="card.expiry")
    state = serializers.ChoiceField(
        choices=["active", "blocked", "expired"], source="card.display_state"
    )
    walletStatus = serializers.ChoiceField(choices=[s.value for s in WalletStatus], source="status")
    eligible = serializers.BooleanField()
    ineligibility = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()
    nfcActionIsSecondary = serializers.BooleanField(
        source="action_is_secondary",
        help_text="True when an NFC token already exists (it may be on an old phone).",
    )

    @extend_schema_field(IneligibilitySerializer(allow_null=True))
    def get_ineligibility(self, state: CardWalletState) -> dict[str, str] | None:
        if state.reason is None:
            return None
        return {"code": state.reason.value, "message": state.reason_text}

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=[a.value for a in NextAction]))
    )
    def get_actions(self, state: CardWalletState) -> list[str]:
        return [state.next_action.value] if state.next_action else []


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
    id = serializers.UUIDField(source="public_id")
    state = serializers.ChoiceField(choices=AttemptState.values)
    universalLink = serializers.SerializerMethodField()
    pollUrl = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    createdAt = serializers.SerializerMethodField()

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_universalLink(self, attempt: ProvisioningAttempt) -> str | None:
        return attempt.ready_link or None

    @extend_schema_field(serializers.CharField())
    def get_pollUrl(self, attempt: ProvisioningAttempt) -> str:
        return reverse("api:attempt", args=[attempt.public_id])

    @extend_schema_field(serializers.CharField())
    def get_message(self, attempt: ProvisioningAttempt) -> str:
        return user_message(attempt)

    @extend_schema_field(serializers.DateTimeField())
    def get_createdAt(self, attempt: ProvisioningAttempt) -> str:
        return attempt.created_at.isoformat()


class NfcLinkSerializer(serializers.Serializer):
    url = serializers.URLField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class TokenSerializer(serializers.Serializer):
    """One token of a card (a TokenView): the card in the app, or a phone."""

    id = serializers.UUIDField(source="token.public_id")
    kind = serializers.ChoiceField(choices=["ecom", "nfc"])
    wallet = serializers.CharField(help_text="The TRID's provider or platform, e.g. Vipps, iOS.")
    deviceName = serializers.CharField(source="token.device_name", allow_blank=True)
    platform = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(
        choices=["active", "suspended", "inactive"], source="token.status"
    )
    since = serializers.DateTimeField(source="token.status_since", allow_null=True)
    changedBy = serializers.ChoiceField(
        choices=["", "cardholder", "bank_staff", "bank_system"],
        source="token.changed_by",
        help_text="Who made the last change we made (empty: changed elsewhere).",
    )
    reason = serializers.CharField(source="token.change_reason", allow_blank=True)
    pendingAction = serializers.SerializerMethodField()
    actions = serializers.ListField(
        child=serializers.ChoiceField(choices=["suspend", "resume", "delete"])
    )

    @extend_schema_field(
        serializers.ChoiceField(choices=["suspend", "resume", "delete"], allow_null=True)
    )
    def get_pendingAction(self, view: TokenView) -> str | None:
        return view.pending.action if view.pending else None


CHANGE_REASONS = [
    "device_lost",
    "device_stolen",
    "suspected_fraud",
    "cardholder_request",
    "account_closed",
    "card_reissued",
    "other",
]


class TokenChangeRequestSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=CHANGE_REASONS)


class TokenChangeSerializer(serializers.Serializer):
    """A change asked of the token service (a TokenChange)."""

    id = serializers.UUIDField(source="public_id")
    token = serializers.UUIDField(source="token.public_id")
    action = serializers.ChoiceField(choices=["suspend", "resume", "delete"])
    reason = serializers.CharField()
    state = serializers.ChoiceField(
        choices=["pending", "done", "failed"],
        help_text="pending: the token service is being retried; the token list shows the end.",
    )


class CardEventRequestSerializer(serializers.Serializer):
    eventId = serializers.CharField(
        max_length=100, help_text="The card management system's id: a repeat changes nothing."
    )
    cardId = serializers.UUIDField()
    event = serializers.ChoiceField(choices=["active", "blocked", "closed", "reissued"])
    reason = serializers.ChoiceField(choices=CHANGE_REASONS, required=False)
    newCardId = serializers.UUIDField(
        required=False, help_text="For ``reissued``: the new card (same cardholder)."
    )

    def validate(self, data: dict) -> dict:
        if data["event"] == "reissued" and not data.get("newCardId"):
            raise serializers.ValidationError({"newCardId": ["Required for a reissued card."]})
        return data


class CardEventSerializer(serializers.Serializer):
    eventId = serializers.CharField(source="event_id")
    event = serializers.CharField(source="kind")
    tokenChanges = serializers.IntegerField(
        source="token_changes", help_text="Token changes queued (each retried until done)."
    )
    replayed = serializers.BooleanField()

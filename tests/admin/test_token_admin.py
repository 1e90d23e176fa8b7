"""Staff and a card's tokens: the card page lists them with their history; Operations suspend,
resume or delete with a reason and a confirmation; Support sees and never acts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from issuer_portal.core.models import AuditEntry
from tests.admin.test_operations import staff
from tests.conftest import PAN_ALICE_VISA
from tokens.models import CardToken, SimulatedToken
from tokens.services import wallet_state_for_card
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone(alice):
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid="40010082040")
    add_simulated_token(card=card, trid="40010093056", device_name="Old Android")
    wallet_state_for_card(card, use_cache=False)
    return CardToken.objects.get(card=card, device_name="Old Android")


def _as(client, user):
    client.force_login(user)
    return client


def test_operations_suspend_with_a_reason_and_a_confirmation_and_see_the_history(
    client, phone, settings
):
    settings.ADMIN_REQUIRE_OTP = False
    _as(client, staff("olga-ops", "Operations"))
    page = client.get(reverse("admin:tokens_cardtoken_change", args=[phone.pk])).content.decode()
    suspend = reverse("admin:tokens_cardtoken_change_status", args=[phone.pk, "suspend"])
    assert suspend in page
    confirm = client.get(suspend).content.decode()
    assert "Reason" in confirm and "I have checked" in confirm
    refused = client.post(suspend, {"reason": "suspected_fraud"})  # not confirmed
    assert refused.status_code == 200 and "choose a reason and confirm" in refused.content.decode()
    assert SimulatedToken.objects.get(device_name="Old Android").status == "active"
    done = client.post(suspend, {"reason": "suspected_fraud", "confirm": "on"})
    assert done.status_code == 302
    phone.refresh_from_db()
    assert (phone.status, phone.changed_by, phone.change_reason) == (
        "suspended",
        "bank_staff",
        "suspected_fraud",
    )
    card_page = client.get(
        reverse("admin:cards_card_change", args=[phone.card.pk])
    ).content.decode()
    assert "Old Android" in card_page and "Status history" in card_page
    assert "Pause (Done)" in card_page and "olga-ops" in card_page
    assert "Suspected fraud" in card_page
    assert phone.token_reference not in card_page and PAN_ALICE_VISA not in card_page
    entry = AuditEntry.objects.get(action="tokens.changed")
    assert entry.actor_label == "olga-ops"


def test_support_sees_the_tokens_and_their_history_but_cannot_act(client, phone, settings):
    settings.ADMIN_REQUIRE_OTP = False
    _as(client, staff("sam-support", "Support"))
    page = client.get(reverse("admin:tokens_cardtoken_change", args=[phone.pk]))
    assert page.status_code == 200
    suspend = reverse("admin:tokens_cardtoken_change_status", args=[phone.pk, "suspend"])
    assert suspend not in page.content.decode()
    assert client.get(suspend).status_code == 403
    assert client.post(suspend, {"reason": "other", "confirm": "on"}).status_code == 403
    assert SimulatedToken.objects.get(device_name="Old Android").status == "active"
    card_page = client.get(reverse("admin:cards_card_change", args=[phone.card.pk]))
    assert card_page.status_code == 200 and "Old Android" in card_page.content.decode()

"""The mobile app manages a card's tokens: list, suspend, resume, delete; errors and keys."""

from __future__ import annotations

import json

import pytest

from tests.api.test_api import token_header
from tests.conftest import PAN_ALICE_VISA
from tokens.models import CardToken, SimulatedToken, TokenChange
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db

VISA_ECOM, VISA_ANDROID = "40010082040", "40010093056"


@pytest.fixture
def visa(alice):
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_ECOM)
    add_simulated_token(card=card, trid=VISA_ANDROID, device_name="Old Android")
    return card


def _tokens(client, card, auth):
    response = client.get(f"/api/v1/cards/{card.public_id}/tokens/", **auth)
    assert response.status_code == 200
    return response.json()


def _change(client, card, token_id, action, auth, reason="device_lost", **headers):
    return client.post(
        f"/api/v1/cards/{card.public_id}/tokens/{token_id}/{action}/",
        json.dumps({"reason": reason}),
        "application/json",
        **auth,
        **headers,
    )


def test_list_then_suspend_resume_delete_a_phone(client, alice, visa):
    auth = token_header(alice.user)
    listed = _tokens(client, visa, auth)
    assert [(t["kind"], t["wallet"], t["deviceName"], t["status"]) for t in listed] == [
        ("ecom", "Vipps", "", "active"),
        ("nfc", "Android", "Old Android", "active"),
    ]
    phone = listed[1]
    assert phone["platform"] == "Android" and phone["actions"] == ["suspend", "delete"]
    assert phone["since"] and phone["pendingAction"] is None
    assert PAN_ALICE_VISA not in json.dumps(listed)
    assert CardToken.objects.get(public_id=phone["id"]).token_reference not in json.dumps(listed)

    paused = _change(client, visa, phone["id"], "suspend", auth)
    assert paused.status_code == 200 and paused.json()["state"] == "done"
    after = _tokens(client, visa, auth)[1]
    assert (after["status"], after["changedBy"], after["reason"]) == (
        "suspended",
        "cardholder",
        "device_lost",
    )
    assert after["actions"] == ["resume", "delete"]
    assert (
        _change(client, visa, phone["id"], "resume", auth, "cardholder_request").status_code == 200
    )
    assert _change(client, visa, phone["id"], "delete", auth, "device_stolen").status_code == 200
    assert [t["kind"] for t in _tokens(client, visa, auth)] == ["ecom"]  # removed: gone
    stored = SimulatedToken.objects.get(device_name="Old Android")
    assert (stored.status, stored.last_reason) == ("deleted", "device_stolen")


def test_errors_another_cardholders_token_unknown_reason_and_a_bank_suspension(
    client, alice, bob, visa, staff_user
):
    from tokens import lifecycle
    from tokens.models import Actor

    phone = _tokens(client, visa, token_header(alice.user))[1]
    calls = SimulatedToken.objects.get(device_name="Old Android").updated_at
    other = _change(client, visa, phone["id"], "suspend", token_header(bob.user))
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    bad = _change(client, visa, phone["id"], "suspend", token_header(alice.user), reason="bored")
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert "reason" in bad.json()["details"]
    assert SimulatedToken.objects.get(device_name="Old Android").updated_at == calls
    lifecycle.request_token_change(
        token=CardToken.objects.get(public_id=phone["id"]),
        action="suspend",
        reason="suspected_fraud",
        actor=Actor.BANK_STAFF,
        user=staff_user,
        try_now=True,
    )
    refused = _change(client, visa, phone["id"], "resume", token_header(alice.user), "other")
    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert "Contact the bank" in refused.json()["message"]


def test_the_service_down_answers_202_and_an_idempotency_key_replays_it(
    client, alice, visa, settings, monkeypatch
):
    from tokens import lifecycle

    queued = []  # the retry is queued, not run here
    monkeypatch.setattr(lifecycle, "queue_change", lambda change, countdown=0.0: queued.append(1))
    auth = token_header(alice.user)
    phone = _tokens(client, visa, auth)[1]
    settings.TOKEN_SIMULATOR_FAILURE = "transient"
    first = _change(client, visa, phone["id"], "suspend", auth, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202 and first.json()["state"] == "pending"
    again = _change(client, visa, phone["id"], "suspend", auth, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert TokenChange.objects.count() == 1 and queued == [1]
    settings.TOKEN_SIMULATOR_FAILURE = ""
    listed = _tokens(client, visa, auth)[1]
    assert listed["pendingAction"] == "suspend" and listed["actions"] == []


def test_the_token_operations_are_in_the_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert "get" in paths["/api/v1/cards/{card_id}/tokens/"]
    for action in ("suspend", "resume", "delete"):
        operation = paths[f"/api/v1/cards/{{card_id}}/tokens/{{token_id}}/{action}/"]["post"]
        assert operation["operationId"] == f"{action}_card_token"
        assert {"200", "202", "400", "404", "409"} <= set(operation["responses"])

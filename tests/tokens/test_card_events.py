"""The bank's own systems drive the tokens: card_status, the import's replaces column, the
card-events endpoint, and the daily reconciliation."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from issuer_portal.cards.models import Card
from tests.conftest import PAN_ALICE_VISA
from tests.factories import CardFactory
from tokens import lifecycle
from tokens.models import Actor, CardEvent, CardToken, SimulatedToken
from tokens.services import wallet_state_for_card
from tokens.simulator import add_simulated_token
from tokens.status import NextAction

pytestmark = pytest.mark.django_db

VISA_ECOM, VISA_IOS, VISA_ANDROID = "40010082040", "40010093055", "40010093056"


@pytest.fixture
def visa(alice):
    """Alice's Visa in Vipps, on an iPhone and an Android; our copy of its tokens is current."""
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_ECOM)
    add_simulated_token(card=card, trid=VISA_IOS, device_name="iPhone")
    add_simulated_token(card=card, trid=VISA_ANDROID, device_name="Android")
    wallet_state_for_card(card, use_cache=False)
    return card


def _simulated(card) -> dict[str, str]:
    return {t.device_name or "app": t.status for t in SimulatedToken.objects.filter(card=card)}


def _run(django_capture_on_commit_callbacks, *args, **kwargs) -> str:
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_blocked_suspends_every_token_and_active_resumes_only_the_banks(
    visa, alice, eager_tasks, django_capture_on_commit_callbacks
):
    android = CardToken.objects.get(card=visa, device_name="Android")
    lifecycle.request_token_change(
        token=android,
        action="suspend",
        reason="cardholder_request",
        actor=Actor.CARDHOLDER,
        try_now=True,
    )
    out = _run(
        django_capture_on_commit_callbacks,
        "card_status",
        str(visa.public_id),
        "blocked",
        "--reason",
        "suspected_fraud",
        "--event-id",
        "cms-1",
    )
    assert "2 token change(s) queued" in out  # the app and the iPhone; the Android was paused
    assert _simulated(visa) == {"app": "suspended", "iPhone": "suspended", "Android": "suspended"}
    visa.refresh_from_db()
    assert visa.state == "blocked"
    iphone = CardToken.objects.get(card=visa, device_name="iPhone")
    assert (iphone.changed_by, iphone.change_reason) == ("bank_system", "suspected_fraud")
    assert lifecycle.allowed_actions(iphone, Actor.CARDHOLDER) == ["delete"]
    again = _run(
        django_capture_on_commit_callbacks,
        "card_status",
        str(visa.public_id),
        "blocked",
        "--event-id",
        "cms-1",
    )
    assert "already applied" in again and CardEvent.objects.count() == 1
    _run(django_capture_on_commit_callbacks, "card_status", str(visa.public_id), "active")
    # Only what the bank suspended comes back; the cardholder's own pause stays.
    assert _simulated(visa) == {"app": "active", "iPhone": "active", "Android": "suspended"}


def test_closed_deletes_every_token(visa, eager_tasks, django_capture_on_commit_callbacks):
    _run(django_capture_on_commit_callbacks, "card_status", str(visa.public_id), "closed")
    assert set(_simulated(visa).values()) == {"deleted"}
    assert set(SimulatedToken.objects.values_list("last_reason", flat=True)) == {"account_closed"}
    visa.refresh_from_db()
    state = wallet_state_for_card(visa)
    assert state.next_action is None and state.reason == "card_blocked"


def test_a_reissued_card_in_the_import_takes_the_tokens_and_is_not_offered_add(
    visa, alice, eager_tasks, django_capture_on_commit_callbacks, tmp_path
):
    feed = tmp_path / "cards.csv"
    feed.write_text(
        "username,full_name,country,nin,pan,expiry,product,nickname,replaces\n"
        f"alice,Alice Nordmann,NO,{alice.nin.reveal()},4000056655665556,2031-09,Visa Debit,,"
        f"{visa.public_id}\n",
        encoding="utf-8",
    )
    out = _run(django_capture_on_commit_callbacks, "import_cards", str(feed))
    assert "1 reissued card(s): 3 wallet token(s) queued to move" in out
    new = Card.objects.get(replaces=visa)
    assert SimulatedToken.objects.filter(card=new).count() == 3
    assert not SimulatedToken.objects.filter(card=visa).exists()
    state = wallet_state_for_card(new)
    assert state.status == "added_with_nfc" and state.next_action != NextAction.PUSH_PROVISION
    again = _run(django_capture_on_commit_callbacks, "import_cards", str(feed))
    assert "0 wallet token(s) queued to move" in again
    assert PAN_ALICE_VISA not in out + again


def test_the_import_refuses_a_replaces_of_another_cardholder(visa, bob, tmp_path):
    feed = tmp_path / "cards.csv"
    feed.write_text(
        "username,full_name,country,nin,pan,expiry,product,nickname,replaces\n"
        f"bob,Bob Hansen,DK,{bob.nin.reveal()},4000056655665556,2031-09,Visa,,{visa.public_id}\n",
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="1 rows failed"):
        call_command("import_cards", str(feed), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Card.objects.filter(replaces=visa).exists()


def _event(client, body, key="cms-secret", **extra):
    headers = {"HTTP_AUTHORIZATION": f"ApiKey {key}"} if key else {}
    return client.post(
        "/api/v1/card-events/", json.dumps(body), "application/json", **headers, **extra
    )


def test_the_card_events_endpoint_its_credential_and_idempotency(
    client, visa, alice, settings, eager_tasks, django_capture_on_commit_callbacks
):
    from tests.api.test_api import token_header

    body = {"eventId": "cms-42", "cardId": str(visa.public_id), "event": "blocked"}
    assert _event(client, body).status_code == 503  # no key configured: off
    settings.CARD_EVENTS_API_KEY = "cms-secret"
    assert _event(client, body, key="").status_code == 401
    assert _event(client, body, key="wrong").status_code == 401
    as_cardholder = client.post(
        "/api/v1/card-events/", json.dumps(body), "application/json", **token_header(alice.user)
    )
    assert as_cardholder.status_code in (401, 403)
    assert _event(client, {**body, "event": "lost"}).status_code == 400
    assert _event(client, {**body, "event": "reissued"}).status_code == 400  # no newCardId
    unknown = _event(client, {**body, "cardId": "00000000-0000-4000-8000-000000000000"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    with django_capture_on_commit_callbacks(execute=True):
        applied = _event(client, body)
    assert applied.status_code == 202
    assert applied.json() == {
        "eventId": "cms-42",
        "event": "blocked",
        "tokenChanges": 3,
        "replayed": False,
    }
    replay = _event(client, body)
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert set(_simulated(visa).values()) == {"suspended"}
    new = CardFactory(cardholder=alice, raw_pan="4000056655665556")
    with django_capture_on_commit_callbacks(execute=True):
        moved = _event(
            client,
            {
                "eventId": "cms-43",
                "cardId": str(visa.public_id),
                "event": "reissued",
                "newCardId": str(new.public_id),
            },
        )
    assert moved.status_code == 202 and SimulatedToken.objects.filter(card=new).count() == 3


def test_the_reconciliation_fixes_drift_and_reports_it(
    visa, eager_tasks, django_capture_on_commit_callbacks
):
    Card.objects.filter(pk=visa.pk).update(state="blocked")  # blocked without an event
    out = _run(django_capture_on_commit_callbacks, "reconcile_tokens", "--json")
    report = json.loads(out)
    assert report["cards_fixed"] == [str(visa.public_id)] and report["suspended"] == 3
    assert set(_simulated(visa).values()) == {"suspended"}
    quiet = json.loads(_run(django_capture_on_commit_callbacks, "reconcile_tokens", "--json"))
    assert quiet["cards_fixed"] == [] and quiet["suspended"] == 0


def test_a_reissued_card_is_not_offered_add_while_its_tokens_are_on_their_way(
    visa, alice, django_capture_on_commit_callbacks, monkeypatch
):
    from tokens.card_events import apply_card_event

    monkeypatch.setattr(lifecycle, "queue_change", lambda change, countdown=0.0: None)  # no worker
    new = CardFactory(cardholder=alice, raw_pan="4000056655665556")
    assert wallet_state_for_card(new).next_action == NextAction.PUSH_PROVISION
    with django_capture_on_commit_callbacks(execute=True):
        apply_card_event(event_id="cms-9", card=visa, kind="reissued", new_card=new, source="api")
    assert not SimulatedToken.objects.filter(card=new).exists()  # not moved yet
    state = wallet_state_for_card(new)
    assert state.status == "added_with_nfc" and state.next_action != NextAction.PUSH_PROVISION

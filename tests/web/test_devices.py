"""The cardholder's devices on the card page: pause, resume, remove one phone, and "I lost my
phone" on every card; step-up, confirmation, audit and what the result page says."""

from __future__ import annotations

import time

import pytest

from issuer_portal.core.models import AuditEntry
from issuer_portal.core.step_up import AUTHENTICATED_AT
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tokens.models import CardToken, SimulatedToken, TokenChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def phones(alice_on_two_phones):
    return alice_on_two_phones


def _signed_in(client, alice, *, minutes_ago: float = 0):
    client.force_login(alice.user)
    session = client.session
    session[AUTHENTICATED_AT] = time.time() - minutes_ago * 60
    session.save()
    return client


def _token(card, device):
    return CardToken.objects.get(card=card, device_name=device)


def test_the_card_page_lists_the_app_and_each_phone_with_actions(client, alice, phones):
    visa, _ = phones
    html = _signed_in(client, alice).get(f"/cards/{visa.public_id}/").content.decode()
    assert "Vipps on your devices" in html and "The card in Vipps" in html
    assert "Old Android" in html and "New Android" in html and "(Android)" in html
    old = _token(visa, "Old Android")
    assert f"/cards/{visa.public_id}/devices/{old.public_id}/suspend/" in html
    assert "I lost my phone" in html
    assert old.token_reference not in html and PAN_ALICE_VISA not in html


def test_pausing_a_phone_needs_a_recent_sign_in_a_confirmation_and_a_post(client, alice, phones):
    visa, _ = phones
    _signed_in(client, alice, minutes_ago=6)
    client.get(f"/cards/{visa.public_id}/")
    old = _token(visa, "Old Android")
    url = f"/cards/{visa.public_id}/devices/{old.public_id}/suspend/"
    stale = client.get(url)
    assert stale.status_code == 302 and stale["Location"].startswith("/accounts/confirm/?next=")
    assert client.post(url, {"reason": "device_lost"}).status_code == 302  # asked again too
    assert not TokenChange.objects.exists()
    wrong = client.post("/accounts/confirm/", {"password": "nope", "next": url})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    confirmed = client.post(
        "/accounts/confirm/", {"password": "correct horse battery", "next": url}
    )
    assert confirmed.status_code == 302 and confirmed["Location"] == url
    page = client.get(url).content.decode()
    assert "Why?" in page and "I lost this phone" in page and "Confirm: pause" in page
    assert client.post(url, {}).status_code == 400  # no reason: asked again, nothing done
    done = client.post(url, {"reason": "device_lost"})
    change = TokenChange.objects.get()
    assert done["Location"] == f"/cards/{visa.public_id}/devices/changes/{change.public_id}/"
    result = client.get(done["Location"]).content.decode()
    assert "is paused on Old Android" in result and "Set up contactless on your new phone" in result
    assert SimulatedToken.objects.get(token_reference=old.token_reference).status == "suspended"
    assert _token(visa, "New Android").status == "active"
    card_page = client.get(f"/cards/{visa.public_id}/").content.decode()
    assert "by you on" in card_page and "Resume" in card_page
    assert AuditEntry.objects.filter(action="auth.step_up", outcome="failure").count() == 1
    assert AuditEntry.objects.filter(action="tokens.changed").count() == 1


def test_a_bank_suspension_shows_why_and_cannot_be_resumed_by_the_cardholder(
    client, alice, phones, staff_user
):
    from tokens import lifecycle
    from tokens.models import Actor

    visa, _ = phones
    _signed_in(client, alice).get(f"/cards/{visa.public_id}/")
    old = _token(visa, "Old Android")
    lifecycle.request_token_change(
        token=old,
        action="suspend",
        reason="suspected_fraud",
        actor=Actor.BANK_STAFF,
        user=staff_user,
        try_now=True,
    )
    html = client.get(f"/cards/{visa.public_id}/").content.decode()
    assert "by the bank on" in html and "Suspected fraud" in html and "Contact the bank" in html
    resume = f"/cards/{visa.public_id}/devices/{old.public_id}/resume/"
    assert resume not in html
    refused = client.post(resume, {"reason": "cardholder_request"})
    assert refused.status_code == 409 and "Contact the bank" in refused.content.decode()
    assert SimulatedToken.objects.get(token_reference=old.token_reference).status == "suspended"


def test_i_lost_my_phone_pauses_it_on_every_card_at_once(client, alice, phones, bob):
    visa, _ = phones
    _signed_in(client, alice)
    for card in phones:
        client.get(f"/cards/{card.public_id}/")
    page = client.get("/cards/lost-phone/").content.decode()
    assert "Old Android" in page and "2 cards" in page
    device = _token(visa, "Old Android").device_id
    assert client.post("/cards/lost-phone/", {"device": "someone-elses"}).status_code == 400
    done = client.post("/cards/lost-phone/", {"device": device})
    assert done["Location"] == "/cards/lost-phone/done/"
    result = client.get(done["Location"]).content.decode()
    assert "Old Android is paused" in result and result.count(": paused") == 2
    assert {_token(card, "Old Android").status for card in phones} == {"suspended"}
    assert {_token(card, "New Android").status for card in phones} == {"active"}
    stored = SimulatedToken.objects.filter(device_name="Old Android")
    assert {(t.status, t.last_reason) for t in stored} == {("suspended", "device_lost")}
    assert PAN_ALICE_MC not in result


def test_another_cardholders_device_is_not_found(client, alice, phones, bob):
    visa, _ = phones
    _signed_in(client, alice).get(f"/cards/{visa.public_id}/")
    old = _token(visa, "Old Android")
    client.logout()
    _signed_in(client, bob)
    assert (
        client.get(f"/cards/{visa.public_id}/devices/{old.public_id}/suspend/").status_code == 404
    )
    assert (
        client.post(
            f"/cards/{visa.public_id}/devices/{old.public_id}/suspend/", {"reason": "device_lost"}
        ).status_code
        == 404
    )
    assert not TokenChange.objects.exists()

"""Bank staff in Django admin never see a full PAN or NIN, anywhere."""

from __future__ import annotations

import pytest
from django.urls import reverse

from issuer_portal.cards.models import Card
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA, PAN_BOB, card_data_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def _assert_clean(html: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in html


def test_admin_pages_never_contain_a_full_pan_or_nin(staff_client, alice, bob, charlie):
    secrets = card_data_of(alice, bob, charlie)
    card = alice.cards.get(last4="4444")
    urls = [
        reverse("admin:cards_cardholder_changelist"),
        reverse("admin:cards_card_changelist"),
        reverse("admin:cards_cardholder_change", args=[alice.pk]),
        reverse("admin:cards_card_change", args=[card.pk]),
        reverse("admin:cards_card_changelist") + "?q=4444",
        reverse("admin:cards_card_changelist") + "?q=alice",
        reverse("admin:cards_cardholder_changelist") + "?q=bob",
        reverse("admin:cards_card_delete", args=[card.pk]),
        reverse("admin:cards_cardholder_delete", args=[alice.pk]),
    ]
    # An edit, so the history page has an entry.
    response = staff_client.post(
        reverse("admin:cards_card_change", args=[card.pk]),
        {"product": "Mastercard Gold", "nickname": "Holidays", "state": "blocked"},
    )
    assert response.status_code == 302
    assert Card.objects.get(pk=card.pk).state == "blocked"
    urls += [
        reverse("admin:cards_card_history", args=[card.pk]),
        reverse("admin:cards_cardholder_history", args=[alice.pk]),
        reverse("admin:index"),
    ]
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.content.decode(), secrets)


def test_admin_shows_masked_values(staff_client, alice):
    html = staff_client.get(reverse("admin:cards_card_changelist")).content.decode()
    assert "•••• 1111" in html and "•••• 4444" in html
    html = staff_client.get(
        reverse("admin:cards_cardholder_change", args=[alice.pk])
    ).content.decode()
    assert alice.masked_nin in html and alice.masked_nin.startswith("150385 ")


def test_search_by_last4_and_username(staff_client, alice, bob):
    url = reverse("admin:cards_card_changelist")
    html = staff_client.get(url + "?q=4242").content.decode()
    assert "•••• 4242" in html and "•••• 1111" not in html
    html = staff_client.get(url + "?q=alice").content.decode()
    assert "•••• 1111" in html and "•••• 4242" not in html
    html = staff_client.get(
        reverse("admin:cards_cardholder_changelist") + "?q=4444"
    ).content.decode()
    assert "Alice Nordmann" in html and "Bob Hansen" not in html


@pytest.mark.parametrize("query", [PAN_ALICE_VISA, "4111 1111 1111 1111", "150385-10190"])
def test_searching_a_full_number_is_refused_and_not_echoed(staff_client, alice, query):
    for name in ("card", "cardholder"):
        url = reverse(f"admin:cards_{name}_changelist")
        response = staff_client.get(url, {"q": query}, follow=True)
        html = response.content.decode()
        assert response.redirect_chain == [(url, 302)]
        assert "full card numbers and national identity numbers are never searched" in html
        assert query not in html and alice.nin.reveal() not in html


def test_admin_cannot_add_cards_or_cardholders_or_editcard_data_of(staff_client, alice):
    assert staff_client.get(reverse("admin:cards_card_add")).status_code == 403
    assert staff_client.get(reverse("admin:cards_cardholder_add")).status_code == 403
    card = alice.cards.get(last4="1111")
    staff_client.post(
        reverse("admin:cards_card_change", args=[card.pk]),
        {"product": "X", "state": "active", "pan": PAN_BOB, "last4": "4242", "expiry": "2040-01"},
    )
    card = Card.objects.get(pk=card.pk)
    assert card.pan.reveal() == PAN_ALICE_VISA and card.last4 == "1111"
    assert card.expiry == "2030-06" and card.product == "X"
    assert alice.cards.get(last4="4444").pan.reveal() == PAN_ALICE_MC


def test_admin_sign_in_is_locked_after_repeated_failures(client, staff_user, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "operator", "password": "wrong"})
    response = client.post(url, {"username": "operator", "password": "correct horse battery"})
    assert response.status_code == 429


def test_staff_edit_trids_in_admin(staff_client):
    from tokens.models import TokenRequestor

    trid = TokenRequestor.objects.get(trid="50169178771")
    url = reverse("admin:tokens_tokenrequestor_change", args=[trid.pk])
    response = staff_client.post(
        url,
        {
            "trid": "50169178771",
            "network": "mastercard",
            "kind": "ecom",
            "label": "Vipps (new)",
            "status": "deprecated",
        },
    )
    assert response.status_code == 302
    assert TokenRequestor.objects.get(pk=trid.pk).status == "deprecated"
    response = staff_client.post(
        reverse("admin:tokens_tokenrequestor_add"),
        {"trid": "1234", "network": "visa", "kind": "ecom", "label": "x", "status": "active"},
    )
    assert "A TRID has 11 digits." in response.content.decode()


def test_token_pages_mask_references_and_are_read_only(staff_client, alice):
    from tokens.models import CardToken
    from tokens.services import wallet_state_for_card
    from tokens.simulator import add_simulated_token

    card = alice.cards.get(last4="1111")
    token = add_simulated_token(card=card, trid="40010082040")
    wallet_state_for_card(card, use_cache=False)
    html = staff_client.get(reverse("admin:tokens_cardtoken_changelist")).content.decode()
    assert f"…{token.token_reference[-6:]}" in html
    assert token.token_reference not in html
    row = CardToken.objects.get()
    assert staff_client.get(reverse("admin:tokens_cardtoken_add")).status_code == 403
    change = staff_client.get(reverse("admin:tokens_cardtoken_change", args=[row.pk]))
    assert token.token_reference not in change.content.decode()
    assert PAN_ALICE_VISA not in html


def test_admin_addresses_from_before_the_split_redirect_to_the_new_ones(staff_client, alice):
    card = alice.cards.first()
    old = f"/admin/issuer_portal/card/{card.pk}/change/?from=runbook"
    response = staff_client.get(old)
    assert response.status_code == 301
    assert response["Location"] == f"/admin/cards/card/{card.pk}/change/?from=runbook"
    assert staff_client.get(response["Location"]).status_code == 200
    audit = staff_client.get("/admin/issuer_portal/auditentry/")
    assert audit["Location"] == "/admin/core/auditentry/"

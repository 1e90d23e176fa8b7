"""The cardholder portal: sign-in, only your own cards, languages, health."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issuer_portal.cards.models import Card
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tests.factories import CardFactory

pytestmark = pytest.mark.django_db

OWN_LAST4 = {"alice": {"1111", "4444"}, "bob": {"4242"}, "charlie": {"8210"}}


def test_card_list_requires_sign_in(client):
    response = client.get("/cards/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ["alice", "bob", "charlie"])
def test_each_cardholder_sees_only_their_own_cards(request, client, persona, alice, bob, charlie):
    holder = request.getfixturevalue(persona)
    client.force_login(holder.user)
    page = client.get("/cards/").content.decode()
    for other, last4s in OWN_LAST4.items():
        for last4 in last4s:
            assert (f"•••• {last4}" in page) == (other == persona)
    for card in Card.objects.select_related("cardholder"):
        detail = client.get(f"/cards/{card.public_id}/")
        if card.cardholder == holder:
            assert detail.status_code == 200
            assert f"•••• {card.last4}" in detail.content.decode()
        else:
            # Someone else's card is indistinguishable from a missing one.
            assert detail.status_code == 404
    assert client.get(f"/cards/{uuid.uuid4()}/").status_code == 404


def test_pages_never_contain_card_data(client, alice):
    client.force_login(alice.user)
    pages = [client.get("/cards/")] + [
        client.get(f"/cards/{card.public_id}/") for card in alice.cards.all()
    ]
    for page in pages:
        html = page.content.decode()
        for secret in (PAN_ALICE_VISA, PAN_ALICE_MC, alice.nin.reveal()):
            assert secret not in html


def test_card_list_shows_product_nickname_expiry_and_state(client, alice):
    card = alice.cards.get(last4="4444")
    card.state = "blocked"
    card.save()
    CardFactory(cardholder=alice, raw_pan="4012888888881881", expiry="2024-01", product="Old Visa")
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert "Travel" in html and "Mastercard Gold" in html and "06/30" in html
    assert 'class="badge state-blocked">Blocked' in html
    assert 'class="badge state-expired">Expired' in html
    assert "state-active" not in html  # active is the normal case: no badge
    assert "Add your cards to Vipps" in html
    # Cards that cannot be added say why and what to do next, not "not added".
    assert "This card is blocked. Contact the bank if you want to use it again." in html
    assert "This card has expired. Add the new card the bank sent you instead." in html
    # The card that can be added comes first.
    assert html.index("Add to Vipps") < html.index("This card is blocked")


def test_each_cards_wallet_section_has_its_own_name(client, alice):
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert (
        'aria-label="Vipps status of Travel ending in 1111"' in html
        or html.count('aria-label="Vipps status of') == 2
    )
    names = [part.split('"')[0] for part in html.split('aria-label="Vipps status of ')[1:]]
    assert len(names) == 2 and len(set(names)) == 2


def test_card_list_query_count_does_not_grow_with_cards(client, alice):
    from django.core.cache import cache

    from tokens.models import SimulatedToken
    from tokens.simulator import add_simulated_token

    client.force_login(alice.user)
    client.get("/cards/")  # the first request after sign-in also rotates the session

    def queries_for_list(expected_cards: int) -> tuple[int, int]:
        cache.clear()
        with CaptureQueriesContext(connection) as cold:
            html = client.get("/cards/").content.decode()
        assert html.count('class="card-item"') == expected_cards
        with CaptureQueriesContext(connection) as warm:
            client.get("/cards/")
        return len(cold), len(warm)

    # Every card has tokens, so the cold page also writes our copy of them.
    for card in alice.cards.all():
        add_simulated_token(card=card, trid=_ecom_trid(card))
    one_or_two = queries_for_list(2)
    for _ in range(48):
        card = CardFactory(cardholder=alice)
        add_simulated_token(card=card, trid=_ecom_trid(card))
    assert SimulatedToken.objects.count() == 50
    assert queries_for_list(50) == one_or_two


def _ecom_trid(card: Card) -> str:
    return "40010082040" if card.network == "visa" else "50169178771"


def test_urls_use_random_uuids_not_sequential_ids(client, alice):
    client.force_login(alice.user)
    card = alice.cards.first()
    html = client.get("/cards/").content.decode()
    assert f"/cards/{card.public_id}/" in html
    assert client.get(f"/cards/{card.pk}/").status_code == 404


def test_sign_in_and_out(client, alice):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302 and response["Location"] == "/cards/"
    assert client.get("/cards/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/cards/").status_code == 302


def test_repeated_failed_sign_ins_lock_the_account(client, alice):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    locked = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert locked.status_code == 429
    assert "Sign-in paused" in locked.content.decode()
    assert "paused for 15 minutes" in locked.content.decode()
    assert client.get("/cards/").status_code == 302


def _session_expiry(client):
    from django.contrib.sessions.models import Session

    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_sessions_expire_after_15_idle_minutes(client, alice):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client.force_login(alice.user)
    assert client.get("/cards/").status_code == 200
    # Every request pushes the expiry 15 minutes ahead ...
    remaining = _session_expiry(client) - timezone.now()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    # ... and the cookie dies with the browser.
    assert client.cookies["sessionid"]["max-age"] == ""
    # 15 idle minutes later the session is gone.
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/cards/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("accept_language", "expected"),
    [
        ("nb-NO,nb;q=0.9", "Mine kort"),
        ("da-DK", "Mine kort"),
        ("fi-FI", "Omat kortit"),
        ("en-GB", "My cards"),
    ],
)
def test_language_follows_the_browser(client, alice, accept_language, expected):
    client.force_login(alice.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE=accept_language).content.decode()
    assert f"<h1>{expected}</h1>" in html


def test_norwegian_translation_covers_the_card_list(client, alice):
    client.force_login(alice.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert 'lang="nb"' in html
    assert "Legg til kortene dine i Vipps" in html
    assert "Utløper" in html and "Logg ut" in html


def test_danish_cardholder_sees_mobilepay_in_danish(client, bob):
    client.force_login(bob.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "Tilføj dine kort til MobilePay" in html


def test_language_can_be_switched(client, alice):
    client.force_login(alice.user)
    client.post(reverse("set_language"), {"language": "fi", "next": "/cards/"})
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<h1>Omat kortit</h1>" in html


def test_login_page_is_accessible_and_translated(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fi").content.decode()
    assert '<label for="id_username">Käyttäjätunnus</label>' in html
    assert 'autocomplete="current-password"' in html


def test_security_headers(client):
    response = client.get("/accounts/login/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_readyz_reports_each_component(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["cache"] == "ok"
    assert body["checks"]["broker"] in {"ok", "not_configured"}


def test_readyz_is_503_when_a_component_fails(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    from issuer_portal.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = settings.REDIS_URL
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json() == {
        "status": "failing",
        "checks": {
            "database": "ok",
            "cache": "ok",
            "broker": "failing",
            "vipps_client": "ok",
            "stand_ins": "simulated",
        },
        "broker_transport": "redis",
    }


def test_readyz_names_an_amqp_broker_by_transport_only(client):
    from issuer_portal.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "amqp://portal:s3cret@127.0.0.1:1/bank"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] == "failing" and body["broker_transport"] == "amqp"
    assert "s3cret" not in response.content.decode() and "bank" not in response.content.decode()


def test_wallet_status_is_translated(client, alice, bob):
    client.force_login(alice.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert html.count("Legg til i Vipps") == 2
    client.force_login(bob.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="da").content.decode()
    assert "Tilføj til MobilePay" in html
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="fi").content.decode()
    assert "Lisää MobilePay-sovellukseen" in html
    # Swedish: a Swedish cardholder's brand is Vipps; the language follows the browser.
    client.force_login(alice.user)
    html = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<html lang="sv">' in html and html.count("Lägg till i Vipps") == 2

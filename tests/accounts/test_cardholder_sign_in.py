"""Cardholders sign in through the bank's identity provider: a real OpenID provider."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.identity_provider import portal_path

pytestmark = pytest.mark.django_db


def sign_in(client, provider, *, login: str, start: str = "/cards/"):
    """A signed-out request for ``start``, through the provider, back at the portal."""
    browser = provider.browser_session()
    response = client.get(start)
    while response.status_code == 302 and response["Location"].startswith("/"):
        response = client.get(response["Location"])
    assert response.status_code == 302, response.status_code
    authorize = response["Location"]
    back = provider.walk(authorize, login=login, browser=browser)
    return client.get(portal_path(back)), authorize, browser


def test_a_deep_link_goes_to_the_provider_and_comes_back_to_the_same_page(
    client, alice, cardholder_sign_in
):
    card = alice.cards.first()
    response, authorize, _ = sign_in(
        client, cardholder_sign_in, login="alice", start=f"/cards/{card.public_id}/"
    )
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(cardholder_sign_in.issuer)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{cardholder_sign_in.portal_url}/oidc/callback/"]
    assert response.status_code == 302
    assert response["Location"] == f"/cards/{card.public_id}/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.wsgi_request.user.username == "alice"


def test_the_password_form_is_off_for_cardholders(client, alice, cardholder_sign_in):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(cardholder_sign_in.issuer)
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/cards/", "//evil.example/", "/\\evil.example"]
)
def test_next_stays_on_this_site(client, alice, cardholder_sign_in, next_url):
    from urllib.parse import quote

    response, _, _ = sign_in(
        client, cardholder_sign_in, login="alice", start=f"/accounts/login/?next={quote(next_url)}"
    )
    assert response["Location"] == "/cards/"


def test_a_person_the_bank_does_not_know_gets_a_page_in_their_language_and_no_account(
    client, alice, cardholder_sign_in, django_user_model
):
    accounts = django_user_model.objects.count()
    client.cookies["django_language"] = "nb"
    response, _, _ = sign_in(client, cardholder_sign_in, login="stranger")
    assert response.status_code == 403
    assert "Vi fant ingen kort" in response.content.decode()
    assert django_user_model.objects.count() == accounts
    assert "_auth_user_id" not in client.session


def test_a_person_found_by_national_identity_number_which_is_never_kept(
    client, alice, cardholder_sign_in, settings, caplog
):
    import logging

    from issuer_portal.core.audit import AuditEntry

    settings.OIDC_NIN_CLAIM = "nin"
    settings.OIDC_SCOPES = "openid nin"
    nin = alice.nin.reveal()
    cardholder_sign_in.people(**{"bankid-7f3a": {"nin": nin}})
    caplog.set_level(logging.DEBUG)
    response, _, _ = sign_in(client, cardholder_sign_in, login="bankid-7f3a")
    assert response.status_code == 302 and response["Location"] == "/cards/"
    assert client.session["_auth_user_id"] == str(alice.user.pk)
    assert nin not in str(dict(client.session))
    assert nin not in caplog.text
    assert not any(nin in str(entry.details) for entry in AuditEntry.objects.all())


def test_private_key_jwt_client_authentication(client, alice, cardholder_sign_in, settings):
    from tests.identity_provider import CARDHOLDER_JWT_CLIENT

    settings.OIDC_CLIENT_ID = CARDHOLDER_JWT_CLIENT
    settings.OIDC_CLIENT_SECRET = ""
    settings.OIDC_CLIENT_AUTH_METHOD = "private_key_jwt"
    settings.OIDC_CLIENT_PRIVATE_KEY_FILE = str(cardholder_sign_in.client_key_file)
    response, _, _ = sign_in(client, cardholder_sign_in, login="alice")
    assert response["Location"] == "/cards/"
    assert client.session["_auth_user_id"] == str(alice.user.pk)

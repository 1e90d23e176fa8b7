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

"""Branded error pages in the user's language, and the issuer's colour from settings."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from issuer_portal.core.theme import contrast_with_white, style_hash, theme_style

pytestmark = pytest.mark.django_db


def test_a_server_error_is_a_branded_page_in_the_users_language(alice, monkeypatch):
    from issuer_portal.web import cards

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(cards, "cards_on_offer", broken)
    client = Client(raise_request_exception=False)
    client.force_login(alice.user)
    response = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="nb")
    html = response.content.decode()
    assert response.status_code == 500
    assert '<html lang="nb">' in html and "Noe gikk galt hos oss" in html
    assert 'href="/cards/"' in html and "boom" not in html


def test_a_missing_page_is_branded_and_the_api_keeps_its_shape(client, alice):
    page = client.get("/cards/not-a-card/", HTTP_ACCEPT_LANGUAGE="sv")
    assert page.status_code == 404
    assert "Vi hittade inte den sidan" in page.content.decode()
    api = client.get("/api/v1/nothing/")
    assert api.status_code == 404 and api.json()["code"] == "not_found"


def test_the_issuers_colour_is_themed_and_allowed_by_its_hash(client, alice, settings):
    client.force_login(alice.user)
    response = client.get("/cards/")
    style = settings.THEME_STYLE
    assert f"<style>{style}</style>" in response.content.decode()
    assert style_hash(style) in response["Content-Security-Policy"]


@pytest.mark.parametrize("colour", ["#ffcc00", "#5a78ff", "blue", "#12345"])
def test_an_unreadable_or_malformed_colour_stops_startup(colour):
    with pytest.raises(ImproperlyConfigured, match="ISSUER_COLOUR"):
        theme_style(colour)


def test_the_default_colours_are_readable():
    assert contrast_with_white("#1f4fd1") >= 4.5
    assert theme_style("#0b6b2f") == ":root{--accent:#0b6b2f}"


def test_add_buttons_say_they_are_busy_and_cannot_be_pressed_twice(client, alice):
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert html.count("data-busy>") == 2
    assert html.count('data-busy-label="Contacting Vipps…"') == 2
    assert '<script src="/static/js/busy.js" defer></script>' in html

"""A warm card list writes nothing and reads a fixed, small set of rows; the idle timeout holds."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issuer_portal.core.idle_timeout import REFRESHED_AT
from provisioning.models import ProvisioningOffer
from tests.factories import CardFactory
from tokens.models import TokenRequestor
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db

WRITES = ("INSERT", "UPDATE", "DELETE")


def _statements(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/cards/").status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def _tables(statements: list[str]) -> list[str]:
    return [sql.split(" FROM ")[1].split()[0].strip('"') for sql in statements]


def test_a_warm_card_list_writes_nothing_and_reads_session_user_cardholder_cards(client, alice):
    """The cardholder and their cards in one statement (FROM the cardholder, JOIN the cards)."""
    for _ in range(8):
        CardFactory(cardholder=alice)
    client.force_login(alice.user)
    client.get("/cards/")  # cold: token lookups, the day's offers, the session's first refresh
    warm = _statements(client)  # rendered from warm caches, and kept
    assert not [sql for sql in warm if sql.lstrip().upper().startswith(WRITES)], warm
    assert _tables(warm) == ["django_session", "auth_user", "cards_cardholder"]
    assert "JOIN" in warm[-1] and '"cards_card"' in warm[-1]
    kept = _statements(client)  # the kept page: only what signing in reads
    assert _tables(kept) == ["django_session", "auth_user"]


def _keep_the_page(client) -> str:
    """Open the card list until the page is kept; returns it."""
    client.get("/cards/")
    client.get("/cards/")
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/cards/").content.decode()
    assert _tables([q["sql"] for q in captured.captured_queries]) == [
        "django_session",
        "auth_user",
    ]
    return html


def test_a_kept_page_is_not_served_once_a_card_or_the_cardholder_changes(client, alice):
    client.force_login(alice.user)
    visa = alice.cards.get(last4="1111")
    assert "Travel card" not in _keep_the_page(client)
    visa.nickname = "Travel card"
    visa.save()
    assert "Travel card" in client.get("/cards/").content.decode()
    _keep_the_page(client)
    visa.delete()
    assert "1111" not in client.get("/cards/").content.decode()
    _keep_the_page(client)
    alice.save()
    assert _tables(_statements(client))[-1] == "cards_cardholder"  # rendered anew


def test_a_kept_page_is_not_served_once_a_wallet_status_changes(client, alice):
    from tokens.services import forget_wallet_state

    client.force_login(alice.user)
    assert _keep_the_page(client).count("Add to Vipps") == 2
    visa = alice.cards.get(last4="1111")
    add_simulated_token(card=visa, trid="40010082040")  # forgets the card's cached status
    assert client.get("/cards/").content.decode().count("Add to Vipps") == 1
    _keep_the_page(client)
    from tokens.models import SimulatedToken

    SimulatedToken.objects.all().delete()  # no signal: the status is still cached...
    forget_wallet_state(visa)  # ...until the cardholder comes back from the app
    assert client.get("/cards/").content.decode().count("Add to Vipps") == 2


def test_pages_with_a_query_string_or_messages_are_never_kept(client, alice):
    from django.contrib.messages import get_messages  # noqa: F401 - the storage in use

    client.force_login(alice.user)
    _keep_the_page(client)
    with CaptureQueriesContext(connection) as captured:
        client.get("/cards/?from=app")
    assert "cards_card" in " ".join(q["sql"] for q in captured.captured_queries)


def test_offers_are_counted_once_per_card_and_day_even_when_the_cache_is_lost(client, alice):
    from django.core.cache import cache

    client.force_login(alice.user)
    client.get("/cards/")
    cache.clear()  # e.g. Redis restarted: the insert is repeated and ignored
    client.get("/cards/")
    client.get("/cards/")
    assert ProvisioningOffer.objects.filter(day=timezone.localdate()).count() == 2


def test_the_session_expiry_moves_at_most_once_a_minute_and_idle_sessions_still_end(
    client, alice, settings
):
    client.force_login(alice.user)
    client.get("/cards/")
    session = Session.objects.get()
    first_expiry = session.expire_date
    client.get("/cards/")
    assert Session.objects.get().expire_date == first_expiry  # no write within the minute
    # A minute later the next request moves the expiry forward (one write).
    store = client.session
    store[REFRESHED_AT] -= settings.SESSION_REFRESH_SECONDS
    store.save()
    Session.objects.update(expire_date=first_expiry - datetime.timedelta(minutes=1))
    client.get("/cards/")
    moved = Session.objects.get().expire_date
    assert moved > first_expiry - datetime.timedelta(minutes=1)
    assert moved <= timezone.now() + datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    # Fifteen idle minutes: the session is over.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get("/cards/")["Location"].startswith("/accounts/login/")


def test_a_trid_change_applies_to_the_next_card_list_at_once(client, alice):
    add_simulated_token(card=alice.cards.get(last4="1111"), trid="40010082040")
    client.force_login(alice.user)
    assert "In Vipps" in _keep_the_page(client)  # the registry is cached, the page kept
    # Staff retire the TRID; a bulk update sends no signal, yet the cached registry goes too.
    TokenRequestor.objects.filter(trid="40010082040").update(status="deprecated")
    assert "In Vipps" not in client.get("/cards/").content.decode()
    _keep_the_page(client)
    TokenRequestor.objects.filter(trid="40010082040").update(status="active")
    assert "In Vipps" in client.get("/cards/").content.decode()
    _keep_the_page(client)
    TokenRequestor.objects.get(trid="40010082040").save(update_fields=["status"])  # a save too
    assert "In Vipps" in _keep_the_page(client)


def test_cached_card_rows_follow_the_wallet_state_the_language_and_the_csrf_secret(
    alice, vipps_sandbox
):
    import re

    from django.test import Client

    from tokens.services import forget_wallet_state

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    assert client.get("/cards/").content.decode().count("Add to Vipps") == 2
    visa = alice.cards.get(last4="1111")
    add_simulated_token(card=visa, trid="40010082040")
    forget_wallet_state(visa)
    html = client.get("/cards/").content.decode()
    assert html.count("Add to Vipps") == 1 and "In Vipps" in html  # the row was rendered anew
    assert "Legg til i Vipps" in client.get("/cards/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    # A new sign-in has a new CSRF secret: the cached rows' forms must still post.
    client.logout()
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    action, token = re.search(
        r'action="(/cards/[^"]+/provision/)"[^>]*>\s*<input type="hidden" '
        r'name="csrfmiddlewaretoken" value="([^"]+)"',
        html,
    ).groups()
    response = client.post(action, {"csrfmiddlewaretoken": token}, HTTP_USER_AGENT="Desktop")
    assert response.status_code in (302, 303), response.status_code


def test_a_cold_card_list_answers_before_it_keeps_what_it_found(client, alice):
    """The page does not wait for its writes: the statuses it found, our copy of the tokens and
    the day's offers are written once it has been sent, when the server closes it."""
    from django.test import RequestFactory

    from tests.serving import answer_then_close
    from tokens.models import CardToken
    from tokens.services import status_cache_key

    visa = alice.cards.get(last4="1111")
    add_simulated_token(card=visa, trid="40010082040")
    client.force_login(alice.user)
    answer, close = answer_then_close(client, RequestFactory().get("/cards/"))
    assert answer.status_code == 200
    assert answer.content.decode().count("Add to Vipps") == 1  # the Mastercard; Visa is added
    assert all(cache.get(status_cache_key(card)) is None for card in alice.cards.all())
    assert not ProvisioningOffer.objects.exists() and not CardToken.objects.exists()
    close()
    assert all(cache.get(status_cache_key(card)) is not None for card in alice.cards.all())
    assert ProvisioningOffer.objects.get().card.last4 == "4444"
    assert CardToken.objects.get().card == visa


@pytest.mark.django_db(transaction=True)  # as served: no test transaction for a failure to spoil
def test_a_card_lists_writes_that_fail_after_the_answer_are_logged(client, alice, caplog):
    import logging

    from django.test import RequestFactory

    from tests.serving import answer_then_close, close_with_the_database_gone

    client.force_login(alice.user)
    answer, close = answer_then_close(client, RequestFactory().get("/cards/"))
    assert answer.status_code == 200 and "Add to Vipps" in answer.content.decode()

    with caplog.at_level(logging.ERROR, logger="issuer_portal.web.after_sending"):
        close_with_the_database_gone(close)  # the cardholder has the page: nothing is raised
    assert "work after the answer failed" in caplog.text
    assert not ProvisioningOffer.objects.exists()
    # Not lost: the offers are not noted as written, so the next list rendered (once the kept
    # page is gone) writes them.
    cache.clear()
    assert client.get("/cards/").status_code == 200
    assert ProvisioningOffer.objects.count() == 2


def test_a_card_list_looked_up_anew_is_the_page_before_when_nothing_it_shows_moved(
    client, alice, settings
):
    """Statuses looked up anew mostly find what they found before: the page rendered then is
    sent again, not rendered. Anything it shows that moved (a status, a card, the language,
    the deployment's settings) makes it render anew."""
    from django.test.signals import template_rendered

    from tokens.services import forget_wallet_state

    rendered: list[str] = []

    def note(sender, template, **kwargs) -> None:
        rendered.append(template.name)

    template_rendered.connect(note)

    def cold_list() -> str:
        for card in alice.cards.all():
            forget_wallet_state(card)  # as when the statuses expire; the kept page goes too
        rendered.clear()
        return client.get("/cards/").content.decode()

    client.force_login(alice.user)
    first = client.get("/cards/").content.decode()
    assert cold_list() == first and "portal/card_list.html" not in rendered
    visa = alice.cards.get(last4="1111")
    add_simulated_token(card=visa, trid="40010082040")
    html = cold_list()
    assert "portal/card_list.html" in rendered and html.count("Add to Vipps") == 1
    assert cold_list() == html and not rendered
    visa.nickname = "Travel card"
    visa.save()
    assert "Travel card" in cold_list() and "portal/card_list.html" in rendered
    settings.ISSUER_NAME = "Nordbank"
    assert "Nordbank" in cold_list() and "portal/card_list.html" in rendered


def test_a_card_list_without_cards_follows_the_language_and_the_csrf_secret(alice):
    """No rows to tell them apart: the page sent again is still the browser's own, in its
    language, its forms carrying tokens of its CSRF secret."""
    import re

    from django.test import Client

    alice.cards.all().delete()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice.user)
    assert "There are no cards" in client.get("/cards/").content.decode()
    norwegian = client.get("/cards/", HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert '<html lang="nb">' in norwegian
    client.logout()
    client.force_login(alice.user)  # a new CSRF secret
    html = client.get("/cards/").content.decode()
    action, token = re.search(
        r'<form method="post" action="([^"]+)" class="inline-form">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)"',
        html,
    ).groups()
    assert client.post(action, {"csrfmiddlewaretoken": token}).status_code == 302  # signed out

"""Cardholders in a real browser: cards that cannot be added, failures, languages, the 404 page;
axe-core on every page.

Only transactional tests in this file (the live server is another thread); the flush keeps the
data migrations' rows (TRIDs, roles) for the tests that run after these.
"""

from __future__ import annotations

import datetime
import uuid

import pytest

from tests.factories import CardFactory, CardholderFactory, UserFactory
from tests.journeys.harness import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.parametrize("profile", ["android", "desktop"])
def test_cards_that_cannot_be_added_say_why_and_what_next(journey, alice, profile):
    alice.cards.filter(last4="4444").update(state="blocked")
    CardFactory(cardholder=alice, expiry="2024-01", product="Old Visa")
    page = journey.open(profile)
    sign_in(journey, page, "alice")
    assert page.get_by_text("This card is blocked. Contact the bank").is_visible()
    assert page.get_by_text("This card has expired. Add the new card").is_visible()
    assert page.get_by_role("button", name="Add to Vipps").count() == 1
    journey.check(page, "blocked and expired cards")


def test_a_cardholder_under_15_is_told_why(journey, db):

    young = CardholderFactory(
        user=UserFactory(username="emil"),
        born=datetime.date.today() - datetime.timedelta(days=365 * 13),
    )
    CardFactory(cardholder=young)
    page = journey.open("iphone")
    sign_in(journey, page, "emil")
    assert page.get_by_text("Cards can be added from the age of 15.").is_visible()
    assert page.get_by_role("button", name="Add to Vipps").count() == 0
    journey.check(page, "under 15")


def test_vipps_refusing_the_card_offers_the_bank_not_a_retry(
    journey, alice, vipps_sandbox, settings
):
    settings.ISSUER_CONTACT = "+47 915 00000"
    vipps_sandbox.faults.append("400")
    page = journey.open("desktop")
    sign_in(journey, page, "alice")
    page.get_by_role("button", name="Add to Vipps").first.click()
    heading = page.get_by_role("heading", name="The card was not added to Vipps")
    heading.wait_for()
    assert page.get_by_text("Contact Demo Bank ASA: +47 915 00000").is_visible()
    assert page.get_by_role("button", name="Try again").count() == 0
    journey.check(page, "Vipps refused the card")


def test_token_service_down_is_one_notice(journey, alice, settings):
    settings.TOKEN_SIMULATOR_FAILURE = "transient"
    page = journey.open("iphone")
    sign_in(journey, page, "alice")
    assert page.get_by_text("We could not check Vipps right now").count() == 1
    assert page.get_by_text("Status unavailable").count() == 2
    journey.check(page, "token service down")


@pytest.mark.parametrize(
    ("language", "username", "add"),
    [
        ("nb", "alice", "Legg til i Vipps"),
        ("sv", "alice", "Lägg till i Vipps"),
        ("da", "bob", "Tilføj til MobilePay"),
        ("fi", "charlie", "Lisää MobilePay-sovellukseen"),
        ("en", "alice", "Add to Vipps"),
    ],
)
def test_the_browsers_language_and_the_switcher(
    journey, alice, bob, charlie, language, username, add
):
    page = journey.open("iphone", language=language)
    sign_in(journey, page, username)
    assert page.locator("html").get_attribute("lang") == language
    assert page.get_by_role("button", name=add).first.is_visible()
    journey.check(page, f"card list in {language}")
    # Switch on the page: the menu lists every language in its own name.
    page.locator("details.language-menu summary").click()
    target = "sv" if language != "sv" else "fi"
    page.locator(f"button[name=language][value={target}]").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == target


def test_a_bad_return_link_lands_on_a_branded_page_in_the_users_language(journey, alice):
    page = journey.open("iphone", language="nb")
    response = page.goto(f"{journey.base_url}/provisioning/{uuid.uuid4()}/return/?sig=nope")
    assert response.status == 404
    assert page.locator("html").get_attribute("lang") == "nb"
    assert page.get_by_role("link", name="Gå til mine kort").is_visible()
    journey.check(page, "404 in Norwegian")

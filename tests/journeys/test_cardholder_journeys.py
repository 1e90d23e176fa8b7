"""Cardholders in a real browser, on a phone and on a desktop, with axe-core on every page.

Only transactional tests in this file (the live server is another thread); the flush keeps the
data migrations' rows (TRIDs, roles) for the tests that run after these.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.factories import CardFactory, CardholderFactory, UserFactory
from tests.journeys.harness import PROFILES
from tokens.simulator import add_simulated_token

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "correct horse battery"
VISA_VIPPS = "40010082040"
PHONES = ["iphone", "android"]


def sign_in(journey, page, username: str) -> None:
    page.goto(f"{journey.base_url}/cards/")
    assert "/accounts/login/" in page.url  # a signed-out deep link goes to the sign-in form
    journey.check(page, "sign-in form")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    arrive(page, r"/cards/$")


def arrive(page, pattern: str) -> None:
    """The page is at a URL matching ``pattern`` (after any redirects) and has loaded."""
    expect(page).to_have_url(re.compile(pattern), timeout=15_000)
    page.wait_for_load_state()


def above_the_fold(page, locator) -> bool:
    box = locator.bounding_box()
    return (
        box is not None and box["y"] + box["height"] <= PROFILES[page.profile]["viewport"]["height"]
    )


@pytest.mark.parametrize("profile", [*PHONES, "desktop", "small-phone"])
def test_sign_in_see_the_cards_and_sign_out(journey, alice, profile):
    page = journey.open(profile)
    sign_in(journey, page, "alice")
    journey.check(page, "card list")
    cards = page.get_by_role("article")
    assert cards.count() == 2
    assert page.get_by_text("Not added").count() == 2
    add = page.get_by_role("button", name="Add to Vipps").first
    assert above_the_fold(page, add), "the first Add button is below the fold"
    page.get_by_role("button", name="Sign out").click()
    arrive(page, r"/accounts/login/")
    assert page.get_by_role("status").inner_text().strip() == "You are signed out."
    journey.check(page, "signed out")
    # The session is gone: the card list asks for a sign-in again.
    page.goto(f"{journey.base_url}/cards/")
    assert "/accounts/login/" in page.url


def test_the_skip_link_and_the_keyboard(journey, alice):
    page = journey.open("desktop")
    sign_in(journey, page, "alice")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("element => element === document.activeElement")
    assert skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Tab order then reaches the first card and its Add button, in reading order.
    names = []
    for _ in range(4):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert any(name.startswith("Add to Vipps") for name in names), names


@pytest.mark.parametrize("profile", PHONES)
def test_add_on_a_phone_switches_to_the_app_and_comes_back(journey, alice, vipps_sandbox, profile):
    page = journey.open(profile)
    sign_in(journey, page, "alice")
    page.get_by_role("button", name="Add to Vipps").first.click()
    # One tap, one redirect: the universal link opens within the tap window.
    arrive(page, r"/sandbox/vipps/app/")
    journey.step(page, "the app (sandbox)")
    page.get_by_role("button", name="Confirm").click()
    arrive(page, r"/provisioning/.+/return/")
    assert page.get_by_role("heading", name="Your card is now in Vipps").is_visible()
    assert page.get_by_role("link", name="Enable contactless").is_visible()
    journey.check(page, "back from the app")
    page.get_by_role("link", name="Back to my cards").click()
    assert page.get_by_text("In Vipps").count() >= 1
    journey.check(page, "card list after adding")


def test_add_on_a_desktop_shows_a_code_and_learns_when_the_phone_is_done(
    journey, alice, vipps_sandbox
):
    desktop = journey.open("desktop")
    sign_in(journey, desktop, "alice")
    desktop.get_by_role("button", name="Add to Vipps").first.click()
    arrive(desktop, r"/provisioning/[0-9a-f-]+/$")
    assert desktop.locator("figure.qr svg").is_visible()
    journey.check(desktop, "code to scan")
    link = desktop.get_by_role("link", name="Continue to Vipps").get_attribute("href")
    # The phone that scanned the code: another browser, no session at the portal.
    phone = journey.open("iphone")
    phone.goto(link)
    phone.get_by_role("button", name="Confirm").click()
    arrive(phone, r"/return/")
    assert phone.get_by_role("heading", name="Your card is now in Vipps").is_visible()
    assert "•••• " not in phone.content()  # no card details without the owner's session
    journey.check(phone, "return page in another browser")
    # The desktop page polls and says so by itself.
    desktop.get_by_role("heading", name="Your card is now in Vipps").wait_for(timeout=20_000)
    journey.check(desktop, "desktop after the phone finished")


@pytest.mark.parametrize("profile", ["iphone", "desktop"])
def test_enable_contactless(journey, alice, profile):
    visa = alice.cards.get(last4="1111")
    add_simulated_token(card=visa, trid=VISA_VIPPS)
    page = journey.open(profile)
    sign_in(journey, page, "alice")
    assert page.get_by_text("In Vipps", exact=True).is_visible()
    page.get_by_role("link", name="Enable contactless").click()
    if profile == "desktop":
        journey.check(page, "contactless code to scan")
        page.get_by_role("link", name="Continue to Vipps").click()
    arrive(page, r"/sandbox/vipps/nfc/")
    page.get_by_role("button", name="Confirm").click()
    arrive(page, r"/nfc/return/")
    assert page.get_by_role("heading", name="Contactless is on in Vipps").is_visible()
    journey.check(page, "contactless on")


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
    import datetime

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
    page.goto(f"{journey.base_url}/accounts/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    arrive(page, r"/cards/$")
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

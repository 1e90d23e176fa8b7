"""Cardholders in a real browser, on a phone and on a desktop, with axe-core on every page.

Only transactional tests in this file (the live server is another thread); the flush keeps the
data migrations' rows (TRIDs, roles) for the tests that run after these.
"""

from __future__ import annotations

import datetime

import pytest

from provisioning.models import ProvisioningAttempt
from tests.journeys.harness import above_the_fold, arrive, sign_in
from tokens.simulator import add_simulated_token

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

VISA_VIPPS = "40010082040"
PHONES = ["iphone", "android"]


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
    # The bank's identity provider signs them out too, then sends them back to us.
    page.get_by_role("button", name="Yes, sign me out").click()
    arrive(page, r"/accounts/signed-out/")
    assert page.get_by_role("heading", name="You are signed out").is_visible()
    journey.check(page, "signed out")
    # Both sessions are gone: the card list asks for a sign-in at the bank again.
    page.goto(f"{journey.base_url}/cards/")
    arrive(page, r"/interaction/")
    assert page.get_by_label("Login name").is_visible()


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


def test_when_vipps_is_slow_the_phone_waits_then_switches_or_taps_the_button(
    journey, alice, vipps_sandbox
):
    """Vipps answers the first call with 503: no app switch within the tap. The pending page
    switches by itself once the retry has the link; reopened later, it offers a button."""
    from issuer_portal.celery import app
    from provisioning.tasks import provision_card

    vipps_sandbox.faults.append("503")
    # The retry is queued (on the broker CI runs, or in memory) and run here: the test is the
    # worker, so nothing runs it before the page has shown that it waits.
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        page = journey.open("android")
        sign_in(journey, page, "alice")
        page.get_by_role("button", name="Add to Vipps").first.click()
        arrive(page, r"/provisioning/[0-9a-f-]+/$")
        attempt_url = page.url
        assert page.get_by_text("Vipps is slow to answer. We keep trying").is_visible()
        journey.check(page, "waiting for Vipps")
        # Screen readers hear the status change; the spinner stands still if motion is reduced.
        assert page.locator("#attempt").get_attribute("aria-live") == "polite"
        page.emulate_media(reduced_motion="reduce")
        spinner = page.locator(".spinner")
        assert spinner.evaluate("element => getComputedStyle(element).animationName") == "none"
        attempt = ProvisioningAttempt.objects.get()
        provision_card.apply(args=[attempt.pk])  # the queued retry gets the link
        arrive(page, r"/sandbox/vipps/app/")  # the page noticed and switched to the app
        page.goto(attempt_url)
        open_app = page.get_by_role("link", name="Open Vipps")
        journey.check(page, "the button that opens the app")
        open_app.click()
        arrive(page, r"/sandbox/vipps/app/")
    finally:
        app.conf.task_always_eager = saved


def test_after_15_idle_minutes_the_session_is_over(journey, alice):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from issuer_portal.core.audit import AuditEntry

    page = journey.open("iphone")
    sign_in(journey, page, "alice")
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    # Fifteen minutes pass without a request: the server-side session has expired.
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    page.reload()
    # The portal asks the bank's identity provider again; its own session (the bank's policy)
    # still stands, so the cardholder is back on the same page with a new session.
    arrive(page, r"/cards/$")
    assert any("/auth?" in url for url in asked)
    assert AuditEntry.objects.filter(action="auth.sign_in", outcome="success").count() == 2
    journey.check(page, "signed in again after idling")

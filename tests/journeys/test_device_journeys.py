"""A cardholder who lost a phone, in a real browser with axe-core on every page: the card page's
devices, "I lost my phone" on every card, resuming one, and confirming who they are again.

Only transactional tests in this file (the live server is another thread).
"""

from __future__ import annotations

import pytest

from tests.journeys.harness import arrive, sign_in, sign_in_at_the_bank
from tokens.models import SimulatedToken

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def two_phones(alice_on_two_phones):
    return alice_on_two_phones


@pytest.mark.parametrize("profile", ["android", "desktop"])
def test_i_lost_my_phone_then_found_it(journey, alice, two_phones, profile):
    visa, mc = two_phones
    page = journey.open(profile)
    sign_in(journey, page, "alice")
    for card in two_phones:  # each card page shows its phones (and notes our copy of them)
        page.goto(f"{journey.base_url}/cards/{card.public_id}/")
    assert page.get_by_role("heading", name="Vipps on your devices").is_visible()
    assert page.get_by_text("Old Android").count() >= 1
    journey.check(page, "card page with devices")

    page.get_by_role("link", name="I lost my phone").click()
    arrive(page, r"/cards/lost-phone/$")
    journey.check(page, "lost phone: which phone")
    page.get_by_label("Old Android").check()
    page.get_by_role("button", name="Confirm: pause this phone on all cards").click()
    arrive(page, r"/cards/lost-phone/done/$")
    assert page.get_by_role("heading", name="Old Android is paused").is_visible()
    assert page.get_by_text(": paused").count() == 2
    journey.check(page, "lost phone: done")
    paused = SimulatedToken.objects.filter(device_name="Old Android")
    assert {(t.status, t.last_reason) for t in paused} == {("suspended", "device_lost")}
    assert {t.status for t in SimulatedToken.objects.filter(device_name="New Android")} == {
        "active"
    }

    # Found it: resume it on one card.
    page.goto(f"{journey.base_url}/cards/{mc.public_id}/")
    page.get_by_role("link", name="Resume Old Android").click()
    journey.check(page, "resume: confirm")
    page.get_by_role("button", name="Confirm: resume").click()
    assert page.get_by_role("heading", name="Resumed").is_visible()
    journey.check(page, "resume: done")
    assert SimulatedToken.objects.get(card=mc, device_name="Old Android").status == "active"
    assert SimulatedToken.objects.get(card=visa, device_name="Old Android").status == "suspended"


def test_an_old_sign_in_is_confirmed_at_the_bank_before_removing_a_phone(
    journey, alice, two_phones, settings
):
    visa, _ = two_phones
    settings.STEP_UP_MAX_AGE_SECONDS = 0  # every sign-in is already too old
    page = journey.open("iphone")
    sign_in(journey, page, "alice")
    page.goto(f"{journey.base_url}/cards/{visa.public_id}/")
    page.get_by_role("link", name="Remove Old Android").click()
    # The provider is asked again (max_age) and asks for a new sign-in; then the action goes on.
    arrive(page, r"/interaction/")
    settings.STEP_UP_MAX_AGE_SECONDS = 300
    sign_in_at_the_bank(page, "alice")
    arrive(page, r"/devices/.*/delete/$")
    page.get_by_label("It was stolen").check()
    journey.check(page, "remove: confirm")
    page.get_by_role("button", name="Confirm: remove").click()
    assert page.get_by_role("heading", name="Removed").is_visible()
    assert page.get_by_text("contact the bank to block the card").is_visible()
    assert SimulatedToken.objects.get(card=visa, device_name="Old Android").status == "deleted"

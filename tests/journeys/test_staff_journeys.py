"""Bank staff in a real browser at 1280 px: sign in with the second factor, find an attempt,
retry it, export the audit log; axe-core on every admin page and on the API docs.

Only transactional tests in this file (the live server is another thread).
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from provisioning.models import AttemptState, Channel, ProvisioningAttempt
from provisioning.tasks import provision_card
from tests.factories import UserFactory
from tests.journeys.harness import sign_in_at_the_bank
from tests.security.test_staff_access import PASSWORD, _code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def operations_staff(db, settings):
    """Olga, in the Operations role, with an authenticator app."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.ADMIN_REQUIRE_OTP = True
    olga = UserFactory(username="olga", is_staff=True)
    olga.set_password(PASSWORD)
    olga.save()
    olga.groups.add(Group.objects.get(name="Operations"))
    return olga, TOTPDevice.objects.create(user=olga, name="phone", confirmed=True)


@pytest.fixture
def failed_attempt(alice):
    card = alice.cards.get(last4="1111")
    return ProvisioningAttempt.objects.create(
        card=card,
        cardholder=alice,
        channel=Channel.WEB,
        state=AttemptState.FAILED,
        error_code="HTTP_503",
        tries=6,
        created_at=timezone.now() - datetime.timedelta(minutes=2),
    )


@pytest.fixture
def olga_in_the_directory(staff_single_sign_on):
    """Olga, in the bank's directory group for card operations, with a second factor."""
    staff_single_sign_on.people(olga={"groups": ["card-ops"]})
    return staff_single_sign_on


def staff_sign_in_through_the_directory(journey):
    page = journey.open("desktop")
    page.goto(f"{journey.base_url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    journey.check(page, "admin sign-in with single sign-on")
    page.get_by_role("link", name="Sign in with your bank staff account").click()
    sign_in_at_the_bank(page, "olga")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


def staff_sign_in(journey, operations_staff):
    _olga, device = operations_staff
    page = journey.open("desktop")
    page.goto(f"{journey.base_url}/admin/login/?next=/admin/")
    journey.check(page, "admin sign-in")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Authenticator code").fill(_code(device))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    return page


def no_sideways_table(page) -> bool:
    """The changelist's table fits its box: nothing hidden behind a sideways scroll."""
    return page.evaluate(
        "() => { const box = document.querySelector('.results');"
        " return !box || box.scrollWidth <= box.clientWidth; }"
    )


def test_find_an_attempt_retry_it_and_export_the_audit_log(
    journey, olga_in_the_directory, failed_attempt, vipps_sandbox
):
    page = staff_sign_in_through_the_directory(journey)
    journey.check(page, "admin home")
    page.get_by_role("link", name="Provisioning attempts").first.click()
    journey.check(page, "attempts list")
    assert no_sideways_table(page), "the attempts table is cut at 1280 px"
    page.get_by_label("Search").fill("1111")
    page.get_by_label("Search").press("Enter")
    page.wait_for_load_state()
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    journey.check(page, "attempts found by last four digits")
    rows.first.locator("a").first.click()
    page.wait_for_load_state()
    journey.check(page, "one attempt")
    page.go_back()
    rows.first.locator("input[type=checkbox]").check()
    page.locator("select[name=action]").select_option("retry_attempts")
    page.get_by_role("button", name="Go").click()
    page.wait_for_load_state()
    assert page.locator(".messagelist .success").count() == 1
    failed_attempt.refresh_from_db()
    assert failed_attempt.state in (AttemptState.REQUESTED, AttemptState.LINK_READY)
    provision_card.apply(args=[failed_attempt.pk])  # the worker's part (already done if eager)
    failed_attempt.refresh_from_db()
    assert failed_attempt.state == AttemptState.LINK_READY
    journey.check(page, "after the retry")
    page.goto(f"{journey.base_url}/admin/provisioning/provisioningattempt/funnel/")
    journey.check(page, "funnel")
    page.goto(f"{journey.base_url}/admin/core/auditentry/")
    journey.check(page, "audit log")
    today = timezone.localdate().isoformat()
    with page.expect_download() as download:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; a.click(); }",
            f"/admin/core/auditentry/export/?start={today}&end={today}",
        )
    csv = download.value.path().read_text()
    assert csv.startswith("created_at,actor_label,action")
    assert "provisioning.admin_retry" in csv or "retry" in csv


def test_the_admin_pages_staff_use_pass_axe(journey, operations_staff, alice, failed_attempt):
    page = staff_sign_in(journey, operations_staff)
    card = alice.cards.get(last4="1111")
    for label, path in [
        ("cardholders", "/admin/cards/cardholder/"),
        ("one cardholder with cards", f"/admin/cards/cardholder/{alice.pk}/change/"),
        ("cards", "/admin/cards/card/"),
        ("one card", f"/admin/cards/card/{card.pk}/change/"),
        ("TRIDs", "/admin/tokens/tokenrequestor/"),
        ("network tokens", "/admin/tokens/cardtoken/"),
        ("JWE keys", "/admin/provisioning/vippsjwekey/"),
        (
            "attempts without an error code",
            "/admin/provisioning/provisioningattempt/?error_code=none",
        ),
    ]:
        response = page.goto(f"{journey.base_url}{path}")
        assert response.status == 200, label
        journey.check(page, label)
        assert no_sideways_table(page), f"{label}: the table is cut at 1280 px"


def test_the_api_docs_pass_axe(journey):
    for profile in ("desktop", "iphone"):
        page = journey.open(profile)
        page.goto(f"{journey.base_url}/api/v1/docs/")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.get_by_role("heading", name="POST /api/v1/cards/{card_id}/provisioning/")
        journey.check(page, "API reference")
    # Swagger UI, for trying requests, still loads (its own markup is not ours to fix).
    page.goto(f"{journey.base_url}/api/v1/docs/try/")
    page.locator(".swagger-ui .information-container").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"

"""Item 5: a staff member signs in to admin with an authenticator, in a real browser.

Only transactional tests in this file: test files are scheduled by their first test, and these
run after every test that relies on the data migrations' rows (the flush removes them).
"""

from __future__ import annotations

import pytest

from tests.factories import UserFactory
from tests.security.test_staff_access import PASSWORD, _code

# Transactional (the live server is another thread); the flush must not take the data
# migrations' roles and TRIDs with it, for the tests that run after these.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def sign_in_page(live_server, django_db_serialized_rollback, settings, browser_page):
    """Olga, staff with an authenticator, on the admin sign-in page with her password typed."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.ADMIN_REQUIRE_OTP = True
    staff = UserFactory(username="olga", is_staff=True, is_superuser=True)
    staff.set_password(PASSWORD)
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    return page, device


def test_a_staff_member_signs_in_with_an_authenticator_in_a_real_browser(sign_in_page):
    page, device = sign_in_page
    page.get_by_label("Authenticator code").fill(_code(device))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url.rstrip("/").endswith("/admin"), page.url
    assert "Site administration" in page.content()


def test_without_the_code_the_browser_stays_on_the_sign_in_page(sign_in_page):
    page, _ = sign_in_page
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert "/admin/login/" in page.url
    assert "Site administration" not in page.content()

"""Staff single sign-on to admin against the real provider: roles from groups at every sign-in,
the bank's multi-factor policy, break-glass, and the deploy check."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from issuer_portal.accounts.models import StaffIdentity
from tests.identity_provider import portal_path

pytestmark = pytest.mark.django_db

PASSWORD = "a long break-glass passphrase"


def sign_in_to_admin(client, provider, login: str):
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    # Single sign-on is the first action on the page; the password form is for break-glass.
    assert html.index("/admin/oidc/start/") < html.index('id="login-form"')
    start = client.get("/admin/oidc/start/?next=/admin/")
    back = provider.walk(start["Location"], login=login, browser=provider.browser_session())
    return client.get(portal_path(back))


def test_a_signed_out_staff_member_signs_in_with_roles_from_groups_and_no_local_code(
    client, staff_single_sign_on, settings
):
    settings.ADMIN_REQUIRE_OTP = True
    staff_single_sign_on.people(olga={"groups": ["card-ops", "everyone"]})
    response = sign_in_to_admin(client, staff_single_sign_on, "olga")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    olga = StaffIdentity.objects.get(subject="olga").user
    assert olga.is_staff and not olga.has_usable_password()
    assert set(olga.groups.values_list("name", flat=True)) == {"Operations"}


def test_roles_are_reapplied_at_every_sign_in_and_a_leaver_loses_access(
    client, staff_single_sign_on
):
    staff_single_sign_on.people(sam={"groups": ["card-ops"]})
    sign_in_to_admin(client, staff_single_sign_on, "sam")
    staff_single_sign_on.people(sam={"groups": ["card-support"]})
    client.logout()
    sign_in_to_admin(client, staff_single_sign_on, "sam")
    sam = StaffIdentity.objects.get(subject="sam").user
    assert set(sam.groups.values_list("name", flat=True)) == {"Support"}
    staff_single_sign_on.people(sam={"groups": []})
    client.logout()
    response = sign_in_to_admin(client, staff_single_sign_on, "sam")
    assert response.status_code == 403
    assert "No access" in response.content.decode()
    sam.refresh_from_db()
    assert not sam.is_staff and not sam.groups.exists()
    assert client.get("/admin/").status_code == 302


def test_a_person_with_no_mapped_group_gets_no_account(
    client, staff_single_sign_on, django_user_model
):
    staff_single_sign_on.people(nora={"groups": ["marketing"]})
    accounts = django_user_model.objects.count()
    assert sign_in_to_admin(client, staff_single_sign_on, "nora").status_code == 403
    assert django_user_model.objects.count() == accounts


def test_without_the_required_second_factor_there_is_no_access(client, staff_single_sign_on):
    staff_single_sign_on.people(pia={"groups": ["card-ops"]})
    staff_single_sign_on.next_login(amr=["pwd"])
    response = sign_in_to_admin(client, staff_single_sign_on, "pia")
    assert response.status_code == 403
    assert "multi-factor" in response.content.decode()
    assert not StaffIdentity.objects.filter(subject="pia").exists()


def test_a_directory_name_that_belongs_to_a_local_account_is_not_taken_over(
    client, staff_single_sign_on, alice
):
    staff_single_sign_on.people(alice={"groups": ["card-ops"]})
    assert sign_in_to_admin(client, staff_single_sign_on, "alice").status_code == 403
    alice.user.refresh_from_db()
    assert not alice.user.is_staff


def test_with_single_sign_on_on_only_the_break_glass_account_uses_a_password(
    client, staff_single_sign_on, django_user_model, settings
):
    settings.ADMIN_REQUIRE_OTP = False
    for name in ("break-glass", "olga"):
        user = django_user_model.objects.create_user(name, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name="Operations"))
    refused = client.post("/admin/login/?next=/admin/", {"username": "olga", "password": PASSWORD})
    assert refused.status_code == 200
    assert "break-glass account" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    allowed = client.post(
        "/admin/login/?next=/admin/", {"username": "break-glass", "password": PASSWORD}
    )
    assert allowed.status_code == 302


def test_deploy_check_warns_when_staff_sso_does_not_insist_on_multi_factor(settings):
    from issuer_portal.checks import check_unsafe_choices

    settings.STAFF_OIDC_CLIENT_ID = "staff-admin"
    settings.STAFF_OIDC_REQUIRED_ACR = []
    settings.STAFF_OIDC_REQUIRED_AMR = []
    assert "issuer_portal.W004" in [w.id for w in check_unsafe_choices()]
    settings.STAFF_OIDC_REQUIRED_AMR = ["mfa"]
    assert "issuer_portal.W004" not in [w.id for w in check_unsafe_choices()]

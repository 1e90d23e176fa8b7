"""Item 5: staff access: a second factor that works in a browser, no password-only API tokens,
hashed expiring tokens, read-only Support, no bisection through hidden fields."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct horse battery"


def _code(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def support(db):
    user = UserFactory(username="sally", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name="Support"))
    return user


def test_the_admin_sign_in_page_has_a_field_for_the_authenticator_code(client, settings, db):
    settings.ADMIN_REQUIRE_OTP = True
    html = client.get(reverse("admin:login")).content.decode()
    assert 'name="otp_token"' in html
    assert 'autocomplete="one-time-code"' in html
    assert '<label for="id_otp_token"' in html


def test_enroll_totp_gives_the_first_administrator_a_device(capsys, db):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = UserFactory(username="first-admin", is_staff=True, is_superuser=True)
    call_command("enroll_totp", "first-admin")
    assert "otpauth://totp/" in capsys.readouterr().out
    assert TOTPDevice.objects.get(user=staff).confirmed
    with pytest.raises(CommandError, match="already has"):
        call_command("enroll_totp", "first-admin")
    with pytest.raises(CommandError, match="No staff account"):
        call_command("enroll_totp", "nobody")


def test_staff_cannot_obtain_an_api_token_with_a_password(client, db):
    staff = UserFactory(username="olga", is_staff=True)
    staff.set_password(PASSWORD)
    staff.save()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "olga", "password": PASSWORD},
        content_type="application/json",
    )
    # The same answer as a wrong password: the endpoint is no oracle for staff passwords.
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_api_tokens_are_stored_hashed_and_expire(client, alice, settings):
    from knox.models import AuthToken

    alice.user.set_password(PASSWORD)
    alice.user.save()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": PASSWORD},
        content_type="application/json",
    )
    token = response.json()["token"]
    stored = AuthToken.objects.get()
    assert token not in (stored.digest, stored.token_key)
    assert stored.expiry is not None
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.get("/api/v1/cards/", **auth).status_code == 200
    AuthToken.objects.update(expiry=stored.created)  # its lifetime is over
    expired = client.get("/api/v1/cards/", **auth)
    assert expired.status_code == 401 and expired.json()["code"] == "unauthenticated"


def test_read_only_support_has_no_state_changing_admin_action(support):
    request = RequestFactory().get("/admin/")
    request.user = support
    for model, model_admin in admin.site._registry.items():
        if model_admin.has_view_permission(request):
            actions = model_admin.get_actions(request)
            assert not actions, f"{model._meta.label}: Support may run {sorted(actions)}"


def test_support_cannot_post_the_refresh_action(client, support, alice):
    card = alice.cards.first()
    client.force_login(support)
    response = client.post(
        reverse("admin:cards_card_changelist"),
        {"action": "refresh_token_status", "_selected_action": [card.pk]},
    )
    from issuer_portal.core.models import AuditEntry

    assert response.status_code in (200, 302)
    assert not AuditEntry.objects.filter(action__startswith="tokens.").exists()
    from tokens.models import CardToken

    assert not CardToken.objects.exists()


@pytest.mark.parametrize(
    ("url", "lookup"),
    [
        ("admin:tokens_cardtoken_changelist", "token_reference__startswith=DN"),
        ("admin:provisioning_provisioningattempt_changelist", "universal_link__startswith=https"),
        ("admin:tokens_tokennotification_changelist", "token_reference__startswith=DN"),
        ("admin:cards_cardholder_changelist", "nin_hmac__startswith=a"),
        ("admin:cards_card_changelist", "pan_hmac__startswith=a"),
        ("admin:auth_user_changelist", "password__startswith=pbkdf2"),
        ("admin:otp_totp_totpdevice_changelist", "key__startswith=a"),
    ],
)
def test_changelists_refuse_filters_on_fields_they_do_not_show(admin_client, url, lookup):
    response = admin_client.get(f"{reverse(url)}?{lookup}")
    assert response.status_code == 400


def test_the_filters_admin_offers_still_work(admin_client, alice):
    card = alice.cards.first()
    for url in (
        f"{reverse('admin:provisioning_provisioningattempt_changelist')}?state__exact=failed",
        f"{reverse('admin:provisioning_provisioningattempt_changelist')}?card__id__exact={card.pk}",
        f"{reverse('admin:cards_card_changelist')}?network__exact=visa",
        f"{reverse('admin:core_auditentry_changelist')}?created_at__year=2026",
    ):
        assert admin_client.get(url).status_code == 200, url

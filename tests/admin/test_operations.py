"""Bank operations: roles, the provisioning admin, and the append-only audit trail."""

from __future__ import annotations

import datetime
import io
import json
import time

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from issuer_portal.core.models import AuditEntry
from provisioning import services
from provisioning.models import ProvisioningAttempt, VippsJweKey
from tests.conftest import card_data_of
from tests.factories import UserFactory
from tokens.models import TokenRequestor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


def staff(username: str, role: str):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def support(client):
    return staff("sam-support", "Support")


@pytest.fixture
def operations(client):
    return staff("olga-ops", "Operations")


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


def failed_attempt(holder, sandbox) -> ProvisioningAttempt:
    sandbox.faults.append("400")
    attempt = services.start_provisioning(
        cardholder=holder, card=holder.cards.first(), channel="web"
    )
    services.provision_now_or_later(attempt)
    attempt.refresh_from_db()
    assert attempt.state == "failed"
    return attempt


def test_roles_exist_with_their_permissions():
    support = set(Group.objects.get(name="Support").permissions.values_list("codename", flat=True))
    ops = set(Group.objects.get(name="Operations").permissions.values_list("codename", flat=True))
    assert all(code.startswith("view_") for code in support)
    assert {
        "retry_provisioningattempt",
        "cancel_provisioningattempt",
        "change_tokenrequestor",
        "change_vippsjwekey",
        "export_auditentry",
    } <= ops
    assert support < ops


def test_support_reads_but_cannot_retry_cancel_or_edit(client, support, alice, vipps_sandbox):
    attempt = failed_attempt(alice, vipps_sandbox)
    client.force_login(support)
    changelist = reverse("admin:provisioning_provisioningattempt_changelist")
    assert client.get(changelist).status_code == 200
    assert "Retry the selected" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "retry_attempts", "_selected_action": [attempt.pk]})
    attempt.refresh_from_db()
    assert attempt.state == "failed" and not entries("provisioning.admin_retry")
    trid = TokenRequestor.objects.get(trid="50169178771")
    response = client.post(
        reverse("admin:tokens_tokenrequestor_change", args=[trid.pk]),
        {
            "trid": trid.trid,
            "network": "mastercard",
            "kind": "ecom",
            "label": "x",
            "status": "deprecated",
        },
    )
    assert response.status_code == 403
    assert TokenRequestor.objects.get(pk=trid.pk).status == "active"
    export = reverse("admin:core_auditentry_export") + "?start=2026-01-01&end=2030-01-01"
    assert client.get(export).status_code == 403


def test_operations_retry_cancel_edit_and_export(client, operations, alice, bob, vipps_sandbox):
    attempt = failed_attempt(alice, vipps_sandbox)
    client.force_login(operations)
    changelist = reverse("admin:provisioning_provisioningattempt_changelist")
    with_retry = client.post(
        changelist, {"action": "retry_attempts", "_selected_action": [attempt.pk]}, follow=True
    )
    assert "1 retried" in with_retry.content.decode()
    attempt.refresh_from_db()
    assert attempt.state == "requested"
    (retry,) = entries("provisioning.admin_retry")
    assert retry.actor == operations and retry.correlation_id == str(attempt.correlation_id)
    assert retry.object_id == str(attempt.public_id)

    pending = services.start_provisioning(cardholder=bob, card=bob.cards.get(), channel="web")
    client.post(changelist, {"action": "cancel_attempts", "_selected_action": [pending.pk]})
    pending.refresh_from_db()
    assert pending.state == "failed" and pending.error_code == "CANCELLED"
    assert len(entries("provisioning.admin_cancel")) == 1

    trid = TokenRequestor.objects.get(trid="50169178771")
    response = client.post(
        reverse("admin:tokens_tokenrequestor_change", args=[trid.pk]),
        {
            "trid": trid.trid,
            "network": "mastercard",
            "kind": "ecom",
            "label": "Vipps (new)",
            "status": "deprecated",
        },
    )
    assert response.status_code == 302
    (changed,) = entries("tokens.trid_changed")
    assert changed.outcome == "changed" and changed.details["status"] == "deprecated"

    detail = client.get(reverse("admin:provisioning_provisioningattempt_change", args=[attempt.pk]))
    html = detail.content.decode()
    # The state changes in words staff read, not the audit codes.
    assert "Adding a card started" in html and "Attempt retried by staff" in html
    assert "provisioning.initiated" not in html
    assert str(attempt.calls.get().trace_id) in html

    export = client.get(
        reverse("admin:core_auditentry_export"),
        {"start": "2000-01-01", "end": "2100-01-01"},
    )
    csv_text = b"".join(export.streaming_content).decode()
    assert export.status_code == 200 and csv_text.startswith("created_at,actor_label,action")
    assert "provisioning.admin_retry" in csv_text and "tokens.trid_changed" in csv_text
    assert len(entries("audit.exported")) == 1


def test_admin_search_by_uuid_correlation_username_and_last4(client, operations, alice, bob):
    first = services.start_provisioning(cardholder=alice, card=alice.cards.first(), channel="web")
    second = services.start_provisioning(cardholder=bob, card=bob.cards.get(), channel="app")
    client.force_login(operations)
    url = reverse("admin:provisioning_provisioningattempt_changelist")
    for query, expected in (
        (str(first.public_id), first),
        (str(second.correlation_id), second),
        ("bob", second),
        ("4242", second),
    ):
        html = client.get(url, {"q": query}).content.decode()
        assert str(expected.public_id) in html
        other = first if expected == second else second
        assert str(other.public_id) not in html
    filtered = client.get(url, {"channel__exact": "app", "brand": "mobilepay"}).content.decode()
    assert str(second.public_id) in filtered and str(first.public_id) not in filtered


def test_no_card_data_in_any_staff_page(client, support, operations, alice, vipps_sandbox):
    attempt = failed_attempt(alice, vipps_sandbox)
    secrets = card_data_of(alice)
    pages = [
        reverse("admin:provisioning_provisioningattempt_changelist"),
        reverse("admin:provisioning_provisioningattempt_change", args=[attempt.pk]),
        reverse("admin:core_auditentry_changelist"),
        reverse("admin:cards_card_changelist"),
        reverse("admin:cards_cardholder_change", args=[alice.pk]),
    ] + [
        reverse("admin:core_auditentry_change", args=[entry.pk])
        for entry in AuditEntry.objects.all()[:5]
    ]
    for user in (support, operations):
        client.force_login(user)
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            for secret in secrets:
                assert secret not in response.content.decode()


def test_the_audit_log_cannot_be_edited_or_deleted(client, operations, alice):
    client.force_login(operations)  # writes an auth.sign_in entry
    entry = AuditEntry.objects.first()
    assert client.get(reverse("admin:core_auditentry_change", args=[entry.pk])).status_code == 200
    assert (
        client.post(
            reverse("admin:core_auditentry_change", args=[entry.pk]), {"action": "x"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.update(action="x")
    entry.action = "edited"
    with pytest.raises(PermissionError):
        entry.save()


def test_each_audited_action_writes_exactly_one_entry(
    client, alice, vipps_sandbox, settings, tmp_path
):
    from tokens.services import notification_signature

    # Sign-in success and failure, with the source address.
    client.post(
        "/accounts/login/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="198.51.100.7"
    )
    (failure,) = entries("auth.sign_in")
    assert (failure.outcome, failure.object_id, failure.source_ip) == (
        "failure",
        "alice",
        "198.51.100.7",
    )
    assert failure.actor is None and failure.actor_label == "system"
    client.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    success = AuditEntry.objects.filter(action="auth.sign_in", outcome="success").get()
    assert success.actor == alice.user

    # Provisioning: initiated, link issued, returned.
    card = alice.cards.get(last4="1111")
    client.post(f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT="iPhone")
    attempt = ProvisioningAttempt.objects.get()
    (initiated,) = entries("provisioning.initiated")
    (issued,) = entries("provisioning.link_issued")
    for entry in (initiated, issued):
        assert entry.actor == alice.user
        assert entry.object_id == str(attempt.public_id)
        assert entry.correlation_id == str(attempt.correlation_id)
    client.get(services.return_url_for(attempt).removeprefix("http://127.0.0.1:8000"))
    assert len(entries("provisioning.returned")) == 1

    # Failed.
    other = alice.cards.get(last4="4444")
    vipps_sandbox.faults.append("400")
    client.post(f"/cards/{other.public_id}/provision/", HTTP_USER_AGENT="iPhone")
    (failed,) = entries("provisioning.failed")
    assert failed.outcome == "failure" and failed.details == {
        "error_code": "REQUEST_VALIDATION_ERROR"
    }

    # NFC link issued.
    from tokens.simulator import add_simulated_token

    add_simulated_token(card=card, trid="40010082040")
    client.get(f"/cards/{card.public_id}/nfc/", HTTP_USER_AGENT="iPhone")
    (nfc,) = entries("provisioning.nfc_link_issued")
    assert nfc.object_id == str(card.public_id)

    # Card import.
    feed = tmp_path / "cards.csv"
    feed.write_text(
        "username,full_name,country,nin,pan,expiry,product,nickname\n"
        "ola,Ola,NO,03047220032,4012888888881881,2029-10,Visa,\n"
    )
    call_command("import_cards", str(feed), stdout=io.StringIO())
    (imported,) = entries("cards.imported")
    assert imported.details["cards_created"] == 1 and imported.actor_label == "system"

    # JWE key change.
    from provisioning.sandbox.material import sandbox_material

    pem = sandbox_material().jwe_public_key.read_text()  # RSA 4096, as Vipps' keys are
    VippsJweKey.objects.create(kid="vipps-2027", public_key=pem)
    (key_entry,) = entries("provisioning.jwe_key_changed")
    assert key_entry.object_id == "vipps-2027" and key_entry.outcome == "created"

    # Token notification.
    settings.TOKEN_NOTIFICATION_SECRET = "s3cret"
    body = json.dumps(
        {
            "eventID": "evt-1",
            "eventType": "TOKEN_DELETED",
            "tokenReferenceID": "NOPE",
            "tokenRequestorID": "40010082040",
        }
    ).encode()
    client.post(
        "/tokens/notifications/",
        data=body,
        content_type="application/json",
        headers={
            "X-Notification-Signature": notification_signature("s3cret", int(time.time()), body)
        },
    )
    (notification,) = entries("tokens.notification_received")
    assert notification.outcome == "unknown_token" and notification.object_id == "evt-1"

    # Nothing of the card data anywhere in the log.
    dump = json.dumps(list(AuditEntry.objects.values()), default=str)
    for secret in card_data_of(alice):
        assert secret not in dump


def test_card_admin_shows_the_wallet_panel_refreshes_and_links_to_attempts(
    client, operations, alice, vipps_sandbox
):
    from tokens.simulator import add_simulated_token

    card = alice.cards.get(last4="1111")
    token = add_simulated_token(card=card, trid="40010082040")
    client.force_login(operations)
    html = client.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert "40010082040 Vipps (ecom, active)" in html
    assert f"…{token.token_reference[-6:]}" in html and token.token_reference not in html
    assert f"?card__id__exact={card.pk}" in html
    attempt = services.start_provisioning(
        cardholder=alice, card=alice.cards.get(last4="4444"), channel="web"
    )
    filtered = client.get(
        reverse("admin:provisioning_provisioningattempt_changelist"), {"card__id__exact": card.pk}
    )
    assert filtered.status_code == 200 and str(attempt.public_id) not in filtered.content.decode()
    refreshed = client.post(
        reverse("admin:cards_card_changelist"),
        {"action": "refresh_token_status", "_selected_action": [card.pk]},
        follow=True,
    )
    assert "1 cards refreshed." in refreshed.content.decode()


def test_key_and_certificate_expiry_warnings(client, operations, settings):
    import datetime

    from django.utils import timezone

    from provisioning.sandbox.material import sandbox_material

    pem = sandbox_material().jwe_public_key.read_text()  # RSA 4096, as Vipps' keys are
    VippsJweKey.objects.create(
        kid="ending", public_key=pem, valid_until=timezone.now() + datetime.timedelta(days=10)
    )
    client.force_login(operations)
    html = client.get(reverse("admin:provisioning_vippsjwekey_changelist")).content.decode()
    assert "Vipps JWE key ending stops being valid on" in html
    assert "expires in 9 days" in html or "expires in 10 days" in html
    # The sandbox's client certificate: subject and expiry are shown (a year ahead: no warning).
    assert "Vipps client certificate: CN=issuer-portal" in html


def _totp_now(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _admin_login(client, username: str, token: str = ""):
    return client.post(
        reverse("admin:login"),
        {
            "username": username,
            "password": "correct horse battery",
            "otp_token": token,
            "next": reverse("admin:index"),
        },
    )


def test_totp_is_optional_until_enrolled_then_required(client, operations):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert _admin_login(client, operations.username).status_code == 302  # no device: password
    client.logout()
    device = TOTPDevice.objects.create(user=operations, name="phone", confirmed=True)
    refused = _admin_login(client, operations.username)
    assert refused.status_code == 200 and client.get(reverse("admin:index")).status_code == 302
    wrong = _admin_login(
        client, operations.username, "000000" if _totp_now(device) != "000000" else "111111"
    )
    assert wrong.status_code == 200
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # django-otp throttles after wrong codes: even the right one waits. (Five failures: a wait of
    # 16 s, so the assertion does not depend on how fast this machine runs the test.)
    device.throttling_failure_count = 5
    device.save(update_fields=["throttling_failure_count"])
    assert _admin_login(client, operations.username, _totp_now(device)).status_code == 200
    # ...a wait that has passed (the throttle counts from the failure's time).
    device.refresh_from_db()
    device.throttling_failure_timestamp -= datetime.timedelta(minutes=10)
    device.save(update_fields=["throttling_failure_timestamp"])
    accepted = _admin_login(client, operations.username, _totp_now(device))
    assert accepted.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_one_setting_makes_totp_mandatory(client, support, settings):
    settings.ADMIN_REQUIRE_OTP = True
    response = _admin_login(client, support.username)
    assert response.status_code == 200  # no device, no code: not let in
    client.force_login(support)
    assert client.get(reverse("admin:index")).status_code == 302  # a session alone is not enough


def test_rows_loaded_as_they_were_are_not_audited_as_edits():
    from django.core import serializers

    dumped = serializers.serialize("json", TokenRequestor.objects.all())
    for row in serializers.deserialize("json", dumped):
        row.save()  # what loaddata and a restored test database do
    assert entries("tokens.trid_changed") == []

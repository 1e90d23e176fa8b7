"""Item 6: the smaller findings of the security review, one regression test each."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from issuer_portal.core.models import AuditEntry
from provisioning import services
from provisioning.models import ProvisioningAttempt, UpstreamCall
from tokens.services import notification_signature

BASE_DIR = Path(__file__).resolve().parents[2]
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


@pytest.mark.django_db
def test_the_audit_export_neutralises_spreadsheet_formulas(client, admin_client):
    for username in ('=HYPERLINK("http://evil.example")', "+1+1", "-2", "@SUM(A1)", "\tx"):
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
    today = timezone.localdate().isoformat()
    response = admin_client.get(
        reverse("admin:core_auditentry_export"), {"start": today, "end": today}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    object_ids = {row[4] for row in rows[1:] if row[2] == "auth.sign_in"}
    assert '\'=HYPERLINK("http://evil.example")' in object_ids
    assert {"'+1+1", "'-2", "'@SUM(A1)"} <= object_ids
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_tab_and_carriage_return_starts_are_neutralised_too():
    from issuer_portal.core.admin_mixins import spreadsheet_safe

    assert spreadsheet_safe("\tcmd") == "'\tcmd" and spreadsheet_safe("\rcmd") == "'\rcmd"
    assert spreadsheet_safe("alice") == "alice"


@pytest.mark.django_db
def test_unsigned_notifications_are_refused_cheaply_and_rate_limited(client, settings):
    settings.TOKEN_NOTIFICATION_SECRET = "s3cret-for-tests"
    body = json.dumps({"eventID": "e-1", "eventType": "TOKEN_DELETED"}).encode()
    statuses = []
    for _ in range(25):
        response = client.post(
            "/tokens/notifications/",
            body,
            content_type="application/json",
            HTTP_X_NOTIFICATION_SIGNATURE="t=1,v1=forged",
        )
        statuses.append(response.status_code)
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    assert not AuditEntry.objects.filter(action="tokens.notification_received").exists()
    # Another address (the token service) is not slowed down by the flood.
    now = int(time.time())
    good = json.dumps(
        {
            "eventID": "e-2",
            "eventType": "TOKEN_STATUS_UPDATED",
            "tokenReferenceID": "DNITHE0000000000000001",
            "tokenRequestorID": "40010082040",
            "tokenStatus": "ACTIVE",
        }
    ).encode()
    signed = client.post(
        "/tokens/notifications/",
        good,
        content_type="application/json",
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_NOTIFICATION_SIGNATURE=notification_signature("s3cret-for-tests", now, good),
    )
    assert signed.status_code == 200
    assert AuditEntry.objects.filter(action="tokens.notification_received").count() == 1


@pytest.mark.django_db
def test_return_links_expire(client, alice, vipps_sandbox, monkeypatch):
    visa = alice.cards.get(last4="1111")
    client.force_login(alice.user)
    client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    attempt = ProvisioningAttempt.objects.get()
    link = services.return_url_for(attempt).removeprefix("http://127.0.0.1:8000")
    nfc_link = services.nfc_return_url_for(visa).removeprefix("http://127.0.0.1:8000")
    assert client.get(link).status_code == 200
    later = time.time() + services.RETURN_LINK_MAX_AGE + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    assert client.get(link).status_code == 404
    assert client.get(nfc_link).status_code == 404


def test_the_image_leaves_local_state_and_secrets_out():
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    for entry in (".env", "var", ".venv", ".git", ".pytest_cache", ".schemathesis"):
        assert entry in ignored
    assert (
        not (BASE_DIR / ".schemathesis").exists()
        or ".schemathesis/" in (BASE_DIR / ".gitignore").read_text()
    )


def test_the_code_in_the_image_belongs_to_root():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "--chown" not in dockerfile
    assert "chmod -R go-w /app" in dockerfile
    assert re.search(r"^ARG BASE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "/healthz" in dockerfile and 'CMD ["gunicorn", "-c", "gunicorn.conf.py"' in dockerfile


def test_compose_ships_a_tls_proxy_in_front_of_the_app():
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert "caddy reverse-proxy --from https://localhost:8443 --to web:8000" in compose
    assert "PUBLIC_BASE_URL: https://localhost:8443" in compose
    assert "gunicorn -c gunicorn.conf.py" in compose


def test_a_2048_bit_vipps_jwe_key_is_refused():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from provisioning.keys import JweKeyError, parse_public_key

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(JweKeyError, match="4096"):
        parse_public_key(pem)


@pytest.mark.django_db
def test_what_vipps_rejected_is_kept_for_staff_without_values(
    client, alice, vipps_sandbox, admin_client
):
    visa = alice.cards.get(last4="1111")
    nin = alice.nin.reveal()
    vipps_sandbox.faults.append("400")  # a validation answer that echoes the NIN back
    client.force_login(alice.user)
    client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    call = UpstreamCall.objects.get()
    assert call.error_code == "REQUEST_VALIDATION_ERROR"
    assert call.details == [
        "nin: must be valid for countryCode",
        "issuerName … is not a registered issuer",
    ]
    assert nin not in json.dumps(call.details)
    page = admin_client.get(
        reverse("admin:provisioning_provisioningattempt_change", args=[call.attempt.pk])
    ).content.decode()
    assert "nin: must be valid for countryCode" in page and nin not in page


def test_error_details_are_read_defensively():
    from provisioning.vipps import _error_details

    body = json.dumps(
        {
            "errors": [
                {"path": "last4", "rule": "four digits", "value": "12a4"},
                7,
                "pan 4111111111111111 bad",
            ]
        }
    ).encode()
    assert _error_details(body) == ("last4: four digits", "pan [PAN] bad")
    for junk in (b"<html>oops</html>", b"", b"[1, 2]", b'{"details": "text"}'):
        assert _error_details(junk) == ()

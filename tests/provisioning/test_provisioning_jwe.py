"""The encrypted card data, decrypted by an independent implementation (cryptography by hand)."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from issuer_portal.core.sensitive import SensitiveValue
from provisioning.jwe import encrypt_card_data
from provisioning.keys import JweKey, JweKeyError, current_jwe_key, parse_public_key
from provisioning.models import VippsJweKey

PAN = "4111111111111111"


@pytest.fixture(scope="session")
def rsa_4096():
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


def public_pem(private) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def decrypt_by_hand(compact: str, private) -> tuple[dict, bytes]:
    """RFC 7516 compact JWE with RSA-OAEP-256 and AES-GCM, without any JOSE library."""
    protected, encrypted_key, iv, ciphertext, tag = compact.split(".")
    header = json.loads(b64d(protected))
    cek = private.decrypt(
        b64d(encrypted_key),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    plaintext = AESGCM(cek).decrypt(
        b64d(iv), b64d(ciphertext) + b64d(tag), protected.encode("ascii")
    )
    return header, plaintext, cek


@pytest.mark.parametrize(("enc", "key_bytes"), [("A128GCM", 16), ("A256GCM", 32)])
def test_jwe_decrypts_independently_with_exact_header_and_payload(
    settings, rsa_4096, enc, key_bytes
):
    settings.VIPPS_JWE_ENC = enc
    key = JweKey(kid="vipps-2026-01", key=parse_public_key(public_pem(rsa_4096)))
    assert key.bits == 4096
    token = encrypt_card_data(pan=SensitiveValue(PAN), expiry="2028-12", key=key)
    assert PAN not in repr(token) and PAN not in str(token)
    header, plaintext, cek = decrypt_by_hand(token.reveal(), rsa_4096)
    assert header == {"alg": "RSA-OAEP-256", "enc": enc, "kid": "vipps-2026-01"}
    assert json.loads(plaintext) == {"pan": PAN, "expiry": "2028-12"}
    assert plaintext == b'{"pan":"4111111111111111","expiry":"2028-12"}'
    assert len(cek) == key_bytes


def test_every_encryption_is_fresh(rsa_4096):
    key = JweKey(kid="k", key=parse_public_key(public_pem(rsa_4096)))
    first = encrypt_card_data(pan=SensitiveValue(PAN), expiry="2028-12", key=key).reveal()
    second = encrypt_card_data(pan=SensitiveValue(PAN), expiry="2028-12", key=key).reveal()
    assert first != second


def test_keys_are_parsed_once(rsa_4096, monkeypatch):
    from jwcrypto import jwk

    pem = public_pem(rsa_4096) + "\n"  # text no earlier test parsed
    parsed = []
    original = jwk.JWK.from_pem

    def counting(data, *args, **kwargs):
        parsed.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(jwk.JWK, "from_pem", staticmethod(counting))
    keys = {id(parse_public_key(pem)) for _ in range(6)}
    assert len(parsed) == 1, "the PEM is read once, then reused"
    assert len(keys) == 1


def test_jwk_form_is_accepted(rsa_4096):
    from jwcrypto import jwk

    as_jwk = jwk.JWK.from_pem(public_pem(rsa_4096).encode()).export_public()
    assert parse_public_key(as_jwk).get("kty") == "RSA"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
            "1024 bits",
        ),
        (lambda: public_pem(ec.generate_private_key(ec.SECP256R1())), "must be RSA"),
        (
            lambda: (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                .private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                .decode()
            ),
            "private key",
        ),
        (lambda: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "cannot be read"),
        (lambda: "", "empty"),
    ],
)
def test_bad_keys_are_refused_clearly(make, message):
    with pytest.raises(JweKeyError, match=message):
        parse_public_key(make())


@pytest.mark.django_db
def test_admin_keys_by_kid_validity_and_settings_fallback(settings, rsa_4096, tmp_path):
    now = timezone.now()
    settings.VIPPS_SANDBOX = False
    settings.VIPPS_JWE_PUBLIC_KEY = ""
    with pytest.raises(JweKeyError, match="No Vipps JWE key"):
        current_jwe_key()
    VippsJweKey.objects.create(
        kid="old", public_key=public_pem(rsa_4096), valid_until=now - datetime.timedelta(days=1)
    )
    with pytest.raises(JweKeyError, match="expired"):
        current_jwe_key()
    path = tmp_path / "vipps.pem"
    path.write_text(public_pem(rsa_4096))
    settings.VIPPS_JWE_PUBLIC_KEY, settings.VIPPS_JWE_KID = str(path), "from-settings"
    assert current_jwe_key().kid == "from-settings"
    VippsJweKey.objects.create(
        kid="current", public_key=public_pem(rsa_4096), valid_from=now - datetime.timedelta(days=2)
    )
    VippsJweKey.objects.create(
        kid="next", public_key=public_pem(rsa_4096), valid_from=now + datetime.timedelta(days=2)
    )
    assert current_jwe_key().kid == "current"
    assert current_jwe_key(now + datetime.timedelta(days=3)).kid == "next"


@pytest.mark.django_db
def test_keys_are_read_once_a_while_and_at_once_after_a_change_here(
    settings, rsa_4096, monkeypatch, django_assert_num_queries
):
    """Every "Add" needs the key: a process reads the records once per KEY_RECORDS_SECONDS; a
    key saved in this process is used at once, one changed elsewhere within that time."""
    from provisioning import keys

    settings.VIPPS_SANDBOX = False
    settings.VIPPS_JWE_PUBLIC_KEY = ""
    now = timezone.now()
    first = VippsJweKey.objects.create(
        kid="first", public_key=public_pem(rsa_4096), valid_from=now - datetime.timedelta(days=1)
    )
    assert current_jwe_key().kid == "first"
    with django_assert_num_queries(0):
        assert current_jwe_key().kid == "first"
    # Saved here (admin): the next request encrypts to the new key.
    VippsJweKey.objects.create(kid="second", public_key=public_pem(rsa_4096), valid_from=now)
    assert current_jwe_key().kid == "second"
    # Switched off by another process (no signal here): seen once the records are read again.
    VippsJweKey.objects.filter(kid="second").update(active=False)
    assert current_jwe_key().kid == "second"
    monkeypatch.setattr(keys, "KEY_RECORDS_SECONDS", 0.0)
    assert current_jwe_key().kid == "first"
    first.delete()
    with pytest.raises(JweKeyError, match="No Vipps JWE key"):
        current_jwe_key()


@pytest.mark.django_db
def test_admin_refuses_a_short_key(client, staff_user):
    client.force_login(staff_user)
    weak = public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    response = client.post(
        "/admin/provisioning/vippsjwekey/add/",
        {
            "kid": "weak",
            "public_key": weak,
            "valid_from_0": "2026-01-01",
            "valid_from_1": "00:00:00",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "at least 4096 are required" in response.content.decode()
    assert not VippsJweKey.objects.exists()

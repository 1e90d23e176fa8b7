"""What staff and health checks need to know about our Vipps mutual-TLS client certificate."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from provisioning.sandbox.material import sandbox_material

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class ClientCertificate:
    subject: str = ""
    issuer: str = ""
    not_after: datetime.datetime | None = None
    problem: str = ""  # empty when usable

    @property
    def days_left(self) -> int | None:
        if self.not_after is None:
            return None
        return (self.not_after - datetime.datetime.now(datetime.UTC)).days

    @property
    def expires_soon(self) -> bool:
        return self.days_left is not None and self.days_left < EXPIRY_WARNING_DAYS


def client_certificate() -> ClientCertificate:
    """The configured client certificate (the sandbox's in sandbox mode), read from disk."""
    if settings.VIPPS_SANDBOX:
        material = sandbox_material()
        cert_path, key_path = material.client_cert, material.client_key
    else:
        if not settings.VIPPS_CLIENT_CERT or not settings.VIPPS_CLIENT_KEY:
            return ClientCertificate(problem="VIPPS_CLIENT_CERT and VIPPS_CLIENT_KEY must be set")
        cert_path, key_path = Path(settings.VIPPS_CLIENT_CERT), Path(settings.VIPPS_CLIENT_KEY)
    try:
        certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        return ClientCertificate(
            problem=f"certificate or key unreadable ({error.__class__.__name__})"
        )
    info = ClientCertificate(
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_after=certificate.not_valid_after_utc,
    )
    if info.days_left is not None and info.not_after < datetime.datetime.now(datetime.UTC):
        return ClientCertificate(info.subject, info.issuer, info.not_after, "certificate expired")
    return info

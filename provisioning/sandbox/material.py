"""Keys and certificates of the built-in Vipps sandbox, generated on first use.

Into VIPPS_SANDBOX_DIR (git-ignored): a CA that signs the sandbox's server certificate and our
client certificate, and a 4096-bit RSA key pair for the JWE. Never production material.
"""

from __future__ import annotations

import fcntl
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from issuer_portal.core.pki import issue, make_ca


@dataclass(frozen=True)
class SandboxMaterial:
    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    jwe_private_key: Path
    jwe_public_key: Path
    jwe_kid: str


def _paths(directory: Path) -> dict[str, Path]:
    return {
        "ca_cert": directory / "ca.crt",
        "server_cert": directory / "server.crt",
        "server_key": directory / "server.key",
        "client_cert": directory / "client.crt",
        "client_key": directory / "client.key",
        "jwe_private_key": directory / "jwe-private.pem",
        "jwe_public_key": directory / "jwe-public.pem",
    }


def _generate(directory: Path, paths: dict[str, Path]) -> None:
    ca = make_ca("Vipps sandbox CA")
    paths["ca_cert"].write_bytes(ca.cert_pem())
    issue(ca, "127.0.0.1", server=True).write(directory, "server")
    issue(ca, settings.VIPPS_SYSTEM_NAME).write(directory, "client")
    private = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    paths["jwe_private_key"].touch(mode=0o600)
    paths["jwe_private_key"].write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # Written last: its presence means the set is complete.
    paths["jwe_public_key"].write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


@lru_cache(maxsize=4)
def sandbox_material(directory: str | None = None) -> SandboxMaterial:
    """The sandbox's material in ``directory`` (VIPPS_SANDBOX_DIR), generated if missing."""
    folder = Path(directory or settings.VIPPS_SANDBOX_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    paths = _paths(folder)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers and processes wait here
        if not paths["jwe_public_key"].exists():
            _generate(folder, paths)
    public_der = serialization.load_pem_public_key(
        paths["jwe_public_key"].read_bytes()
    ).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = "sandbox-" + hashlib.sha256(public_der).hexdigest()[:16]
    return SandboxMaterial(directory=folder, jwe_kid=kid, **paths)

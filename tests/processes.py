"""Real processes the suite starts: a Celery worker on its own queue, ``manage.py`` with a
production-like environment."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn_command(port: int, *options: str) -> list[str]:
    """The shipped gunicorn configuration on 127.0.0.1:``port``, plus ``options``."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        *options,
    ]


def celery_worker_command(
    queue: str, *, loglevel: str = "WARNING", pool: str = "solo", concurrency: int = 1
) -> list[str]:
    """A worker that consumes only ``queue`` (tests never share a worker); solo by default."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "issuer_portal",
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "-Q",
        queue,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]


# Variables of the test run that must not leak into the production-like child processes.
_LOCAL_ONLY = {
    "DJANGO_DEBUG",
    "DJANGO_DEV_SECRETS",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_STATIC_MANIFEST",
    "LOCAL_STATE_DIR",
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "FIELD_HMAC_KEY",
    "VIPPS_SANDBOX",
    "TOKEN_SERVICE_ADAPTER",
    "ADMIN_REQUIRE_OTP",
    "READINESS_CACHE_SECONDS",
    "STAND_INS_ALLOWED",
}


def vipps_client_env() -> dict[str, str]:
    """A complete real-Vipps client configuration (files from the sandbox's generated material)."""
    from provisioning.sandbox.material import sandbox_material

    material = sandbox_material()
    return {
        "VIPPS_PROVISIONING_URL": "https://api.vipps.example/provisioning/v1/cards",
        "VIPPS_CLIENT_CERT": str(material.client_cert.resolve()),
        "VIPPS_CLIENT_KEY": str(material.client_key.resolve()),
        "VIPPS_CA_BUNDLE": str(material.ca_cert.resolve()),
        "VIPPS_JWE_PUBLIC_KEY": str(material.jwe_public_key.resolve()),
        "VIPPS_JWE_KID": material.jwe_kid,
    }


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LOCAL_ONLY}
    env.update(
        DJANGO_SETTINGS_MODULE="issuer_portal.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        FIELD_HMAC_KEY=secrets.token_urlsafe(32),
        DJANGO_ALLOWED_HOSTS="cards.bank.example",
        PUBLIC_BASE_URL="https://cards.bank.example",
        LOCAL_STATE_DIR=str(tmp_path / "state"),
        TOKEN_SERVICE_ADAPTER="mdes",
        MDES_BASE_URL="https://mdes.bank.example",
        **vipps_client_env(),
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

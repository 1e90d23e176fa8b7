"""Configuration from the environment: startup errors, production checks, database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.processes import manage, production_env

BASE_DIR = Path(__file__).resolve().parents[2]


def test_check_deploy_with_production_settings_reports_nothing(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "FIELD_HMAC_KEY"]
)
def test_a_missing_secret_with_debug_off_is_a_clear_startup_error(tmp_path, missing):
    result = manage(production_env(tmp_path, **{missing: ""}), "check")
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {missing} is not set." in result.stderr
    assert not (tmp_path / "state" / "dev-secrets.json").exists()


def test_a_malformed_encryption_key_is_refused_without_echoing_it(tmp_path):
    good = Fernet.generate_key().decode()
    result = manage(
        production_env(tmp_path, FIELD_ENCRYPTION_KEYS=f"{good},not-a-real-key"), "check"
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key #2 is not a valid key" in result.stderr
    assert "not-a-real-key" not in result.stderr and good not in result.stderr


def test_debug_defaults_to_off_and_demo_secrets_are_generated_not_hard_coded(tmp_path):
    env = production_env(
        tmp_path, DJANGO_SECRET_KEY="", FIELD_ENCRYPTION_KEYS="", FIELD_HMAC_KEY=""
    )
    assert manage(env, "check").returncode != 0  # debug is off unless asked for
    env["DJANGO_DEBUG"] = "1"
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr
    generated = tmp_path / "state" / "dev-secrets.json"
    assert generated.exists() and oct(generated.stat().st_mode & 0o777) == "0o600"


def test_sqlite_database_url_with_a_path_works(tmp_path):
    database = tmp_path / "nested" / "portal.sqlite3"
    env = production_env(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    result = manage(env, "migrate", "--noinput", "-v0")
    assert result.returncode == 0, result.stderr
    assert database.exists() and database.stat().st_size > 0


def test_public_base_url_must_be_absolute(tmp_path):
    result = manage(production_env(tmp_path, PUBLIC_BASE_URL="cards.bank.example"), "check")
    assert result.returncode != 0
    assert "PUBLIC_BASE_URL must be an absolute http(s) URL." in result.stderr


@pytest.mark.django_db
def test_requests_for_a_host_not_configured_are_refused(client):
    assert client.get("/healthz", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/healthz", HTTP_HOST="localhost").status_code == 200

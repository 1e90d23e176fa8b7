"""Item 1 of the security review: outside the demo nothing silently falls back to a fake."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from issuer_portal.core.url_policy import outbound_url_problem
from tests.processes import manage, production_env


def test_a_forgotten_vipps_url_stops_startup_instead_of_switching_on_the_sandbox(tmp_path):
    result = manage(production_env(tmp_path, VIPPS_PROVISIONING_URL=""), "check")
    assert result.returncode != 0
    assert "VIPPS_PROVISIONING_URL is not set" in result.stderr


def test_every_missing_piece_of_the_vipps_client_is_named(tmp_path):
    env = production_env(
        tmp_path,
        VIPPS_PROVISIONING_URL="",
        VIPPS_CLIENT_CERT="",
        VIPPS_CLIENT_KEY=str(tmp_path / "nowhere.key"),
        VIPPS_JWE_PUBLIC_KEY="",
        VIPPS_JWE_KID="",
    )
    result = manage(env, "check")
    assert result.returncode != 0
    for problem in (
        "VIPPS_PROVISIONING_URL is not set",
        "VIPPS_CLIENT_CERT is not set",
        "VIPPS_CLIENT_KEY names no readable file",
        "no JWE key source",
    ):
        assert problem in result.stderr


def test_jwe_keys_managed_in_admin_are_an_explicit_key_source(tmp_path):
    env = production_env(
        tmp_path, VIPPS_JWE_PUBLIC_KEY="", VIPPS_JWE_KID="", VIPPS_JWE_KEYS_IN_ADMIN="true"
    )
    result = manage(env, "check")
    assert result.returncode == 0, result.stderr


def test_the_sandbox_runs_only_when_asked_for(tmp_path):
    demo = production_env(tmp_path, DJANGO_DEBUG="1", VIPPS_PROVISIONING_URL="")
    assert manage(demo, "check").returncode == 0
    both = production_env(tmp_path, VIPPS_SANDBOX="1")
    result = manage(both, "check")
    assert result.returncode != 0 and "choose one" in result.stderr


def test_the_token_service_adapter_has_no_default_outside_debug(tmp_path):
    result = manage(production_env(tmp_path, TOKEN_SERVICE_ADAPTER=""), "check")
    assert result.returncode != 0
    assert "TOKEN_SERVICE_ADAPTER is not set" in result.stderr
    staging = production_env(tmp_path, TOKEN_SERVICE_ADAPTER="simulator")
    assert manage(staging, "check").returncode == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.evil.example/provisioning",
        "http://127.0.0.1@evil.example/provisioning",
        "http://localhost.evil.example/",
        "https://user:secret@api.vipps.example/",
        "http://10.0.0.5/provisioning",
        "ftp://api.vipps.example/",
        "https://[::1/",
    ],
)
def test_outbound_urls_are_parsed_not_prefix_matched(url):
    assert outbound_url_problem(url) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://api.vipps.example/v1",
        "http://127.0.0.1:8443/x",
        "http://[::1]:80/",
        "http://localhost/",
    ],
)
def test_https_and_plain_loopback_are_allowed(url):
    assert outbound_url_problem(url) is None


@pytest.mark.parametrize(
    "name", ["VIPPS_PROVISIONING_URL", "MDES_BASE_URL", "VTS_BASE_URL", "OIDC_JWKS_URL"]
)
def test_a_lookalike_loopback_url_is_refused_at_startup(tmp_path, name):
    result = manage(production_env(tmp_path, **{name: "http://127.0.0.1.evil.example/"}), "check")
    assert result.returncode != 0
    assert f"{name} must use https" in result.stderr


def test_the_outbound_choke_point_refuses_a_lookalike_host_at_call_time():
    from issuer_portal.core.outbound import OutboundError, TlsClientConfig, post_json

    with pytest.raises(OutboundError) as refused:
        post_json("http://127.0.0.1@evil.example/", {}, config=TlsClientConfig())
    assert refused.value.permanent and refused.value.configuration


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["seed_demo", "seed_demo_tokens"])
def test_demo_seeding_refuses_outside_debug_and_creates_nothing(settings, command):
    from django.contrib.auth import get_user_model

    from issuer_portal.cards.models import Card

    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DJANGO_DEBUG on"):
        call_command(command)
    assert not get_user_model().objects.exists()
    assert not Card.objects.exists()


def test_check_deploy_warns_about_each_unsafe_but_allowed_choice(tmp_path):
    env = production_env(
        tmp_path,
        VIPPS_PROVISIONING_URL="",
        VIPPS_SANDBOX="1",
        TOKEN_SERVICE_ADAPTER="simulator",
        ADMIN_REQUIRE_OTP="false",
    )
    result = manage(env, "check", "--deploy")
    assert result.returncode == 0, result.stderr  # allowed, but said out loud
    for check_id in ("issuer_portal.W001", "issuer_portal.W002", "issuer_portal.W003"):
        assert check_id in result.stderr + result.stdout


def test_staff_need_the_second_factor_by_default_outside_debug(tmp_path):
    script = "from django.conf import settings; print(settings.ADMIN_REQUIRE_OTP)"
    result = manage(production_env(tmp_path), "shell", "-c", script)
    assert result.stdout.strip().endswith("True"), result.stderr
    demo = manage(production_env(tmp_path, DJANGO_DEBUG="1"), "shell", "-c", script)
    assert demo.stdout.strip().endswith("False")


def test_without_the_sandbox_its_pages_are_not_served(tmp_path):
    script = (
        "from django.urls import Resolver404, resolve\n"
        "try:\n    resolve('/sandbox/vipps/app/')\n    print('SERVED')\n"
        "except Resolver404:\n    print('NOT SERVED')"
    )
    result = manage(production_env(tmp_path), "shell", "-c", script)
    assert result.stdout.strip().endswith("NOT SERVED"), result.stderr


@pytest.mark.parametrize(
    "link",
    [
        "http://127.0.0.1:8000.evil.example/sandbox/vipps/app/",
        "http://127.0.0.1:8000@evil.example/sandbox/vipps/app/",
        "http://127.0.0.1:8000/elsewhere/",
    ],
)
def test_sandbox_links_are_parsed_too(settings, link):
    from provisioning.vipps import is_allowed_universal_link

    settings.VIPPS_SANDBOX = True
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    assert is_allowed_universal_link("http://127.0.0.1:8000/sandbox/vipps/app/?t=x")
    assert not is_allowed_universal_link(link)

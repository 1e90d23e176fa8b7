"""`manage.py check --deploy` warnings for choices that are allowed but unsafe in production."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


def simulated_components() -> list[str]:
    """The stand-ins in use instead of real services: "vipps_sandbox", "token_simulator"."""
    found = []
    if settings.VIPPS_SANDBOX:
        found.append("vipps_sandbox")
    adapters = {
        settings.TOKEN_SERVICE_ADAPTER,
        *settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK.values(),
    }
    if "simulator" in adapters:
        found.append("token_simulator")
    return found


@register(Tags.security, deploy=True)
def check_unsafe_choices(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    warnings: list[CheckMessage] = []
    simulated = simulated_components()
    if "vipps_sandbox" in simulated:
        warnings.append(
            Warning(
                "VIPPS_SANDBOX is on: cards go to the built-in sandbox (home-made CA and JWE "
                "key, /sandbox/vipps/ pages served), never to Vipps.",
                hint="Turn VIPPS_SANDBOX off and configure the Vipps client (README).",
                id="issuer_portal.W001",
            )
        )
    if "token_simulator" in simulated:
        warnings.append(
            Warning(
                "The token service simulator is in use: wallet statuses are made up.",
                hint="Set TOKEN_SERVICE_ADAPTER (and the per-network ones) to mdes or vts.",
                id="issuer_portal.W002",
            )
        )
    if not settings.ADMIN_REQUIRE_OTP:
        warnings.append(
            Warning(
                "ADMIN_REQUIRE_OTP is off: staff without an authenticator enter admin with a "
                "password alone.",
                hint="Leave ADMIN_REQUIRE_OTP at its default (on).",
                id="issuer_portal.W003",
            )
        )
    if settings.STAFF_OIDC_CLIENT_ID and not (
        settings.STAFF_OIDC_REQUIRED_ACR or settings.STAFF_OIDC_REQUIRED_AMR
    ):
        warnings.append(
            Warning(
                "Staff single sign-on is on without STAFF_OIDC_REQUIRED_ACR or "
                "STAFF_OIDC_REQUIRED_AMR: a password alone at the directory opens admin, and "
                "the local second factor is not asked.",
                hint="Set STAFF_OIDC_REQUIRED_ACR or STAFF_OIDC_REQUIRED_AMR (e.g. mfa).",
                id="issuer_portal.W004",
            )
        )
    return warnings

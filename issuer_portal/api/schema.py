"""OpenAPI description of the bearer-JWT authentication (drf-spectacular extension)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OidcJwtScheme(OpenApiAuthenticationExtension):
    target_class = "issuer_portal.api.authentication.OidcJwtAuthentication"
    name = "bankIdentityProvider"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from the bank's identity provider (RS256/ES256/PS256).",
        }

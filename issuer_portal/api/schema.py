"""OpenAPI description of the API's authentications (drf-spectacular extensions)."""

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


class CardEventsKeyScheme(OpenApiAuthenticationExtension):
    target_class = "issuer_portal.api.authentication.CardEventsKeyAuthentication"
    name = "cardEventsKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ApiKey <CARD_EVENTS_API_KEY>`: the card management system's own key.",
        }

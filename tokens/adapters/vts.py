"""Visa: shaped after VTS issuer token inquiry.

Request  ``POST {VTS_BASE_URL}/pan/retrieveTokenInfo`` ``{"panData": {"pan": "<PAN>"}}``.
Response ``{"tokenDetails": [{"tokenReferenceID", "tokenRequestorID", "tokenType",
"tokenStatus", "deviceInfo": {"deviceName"}, "lastUpdatedTimestamp"}]}``.
``tokenStatus``: ACTIVE, SUSPENDED, INACTIVE, DEACTIVATED. ``tokenType``: CARD_ON_FILE or
ECOMMERCE (card on file), SECURE_ELEMENT, HCE or CLOUD (device).
"""

from __future__ import annotations

from typing import Any

from issuer_portal.cards.models import Card
from tokens.adapters.base import NetworkToken
from tokens.adapters.http import HttpTokenServiceAdapter, checked_token, malformed
from tokens.models import TokenStatus, TokenType

STATUS = {
    "ACTIVE": TokenStatus.ACTIVE,
    "SUSPENDED": TokenStatus.SUSPENDED,
    "INACTIVE": TokenStatus.INACTIVE,
    "DEACTIVATED": TokenStatus.DELETED,
    "DELETED": TokenStatus.DELETED,
}
TYPE = {
    "CARD_ON_FILE": TokenType.CARD_ON_FILE,
    "ECOMMERCE": TokenType.CARD_ON_FILE,
    "SECURE_ELEMENT": TokenType.DEVICE,
    "HCE": TokenType.DEVICE,
    "CLOUD": TokenType.DEVICE,
}


class VtsAdapter(HttpTokenServiceAdapter):
    name = "vts"
    settings_prefix = "VTS"

    def tokens_for_card(self, card: Card, prepared: Any = None) -> list[NetworkToken]:
        """Every VTS token of the card. Raises TokenServiceError (transient or permanent)."""
        body = self._post("/pan/retrieveTokenInfo", {"panData": {"pan": card.pan.reveal()}})
        if not isinstance(body, dict):
            raise malformed(self.name, "body is not an object")
        details = body.get("tokenDetails", [])
        if not isinstance(details, list):
            raise malformed(self.name, "tokenDetails is not a list")
        return [self._token(item) for item in details]

    def _token(self, item: Any) -> NetworkToken:
        if not isinstance(item, dict):
            raise malformed(self.name, "token is not an object")
        return checked_token(
            self.name,
            reference=item.get("tokenReferenceID"),
            trid=item.get("tokenRequestorID"),
            status=str(item.get("tokenStatus", "")).upper(),
            statuses=STATUS,
            token_type=TYPE.get(str(item.get("tokenType", "")).upper(), TokenType.UNKNOWN),
            device=item.get("deviceInfo"),
            updated_at=item.get("lastUpdatedTimestamp"),
        )

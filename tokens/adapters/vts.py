"""Visa: shaped after VTS issuer token inquiry.

Request  ``POST {VTS_BASE_URL}/pan/retrieveTokenInfo`` ``{"panData": {"pan": "<PAN>"}}``.
Response ``{"tokenDetails": [{"tokenReferenceID", "tokenRequestorID", "tokenType",
"tokenStatus", "deviceInfo": {"deviceName"}, "lastUpdatedTimestamp"}]}``.
``tokenStatus``: ACTIVE, SUSPENDED, INACTIVE, DEACTIVATED. ``tokenType``: CARD_ON_FILE or
ECOMMERCE (card on file), SECURE_ELEMENT, HCE or CLOUD (device).
"""

from __future__ import annotations

import logging
from typing import Any

from issuer_portal.models import Card
from tokens.adapters.base import NetworkToken
from tokens.adapters.http import HttpTokenServiceAdapter, malformed, parse_timestamp
from tokens.models import TokenStatus, TokenType

logger = logging.getLogger(__name__)

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
        reference = item.get("tokenReferenceID")
        trid = item.get("tokenRequestorID")
        if not isinstance(reference, str) or not reference or not isinstance(trid, str | int):
            raise malformed(self.name, "token without reference or requestor")
        status = str(item.get("tokenStatus", "")).upper()
        if status not in STATUS:
            logger.warning("vts: unknown token status %r treated as inactive", status)
        device = item.get("deviceInfo") if isinstance(item.get("deviceInfo"), dict) else {}
        return NetworkToken(
            token_reference=reference,
            trid=str(trid),
            status=STATUS.get(status, TokenStatus.INACTIVE),
            token_type=TYPE.get(str(item.get("tokenType", "")).upper(), TokenType.UNKNOWN),
            device_name=str(device.get("deviceName") or "")[:100],
            updated_at=parse_timestamp(item.get("lastUpdatedTimestamp")),
        )

"""Mastercard: shaped after the MDES Customer Service API's token search.

Request  ``POST {MDES_BASE_URL}/search`` ``{"SearchRequest": {"AccountPan": "<PAN>"}}``.
Response ``{"SearchResponse": {"Accounts": {"Account": [{"Tokens": {"Token": [ ... ]}}]}}}``
with ``TokenUniqueReference``, ``TokenRequestorId``, ``CurrentStatusCode`` (A active,
S suspended, D deactivated, U unmapped/inactive), ``TokenType`` (F card on file; C cloud and
S secure element are device tokens), ``Device.DeviceName``, ``CurrentStatusDateTime``.
The API cannot filter by token requestor, so every token comes back; status derivation filters.
"""

from __future__ import annotations

import logging
from typing import Any

from issuer_portal.models import Card
from tokens.adapters.base import NetworkToken
from tokens.adapters.http import HttpTokenServiceAdapter, as_list, malformed, parse_timestamp
from tokens.models import TokenStatus, TokenType

logger = logging.getLogger(__name__)

STATUS = {
    "A": TokenStatus.ACTIVE,
    "S": TokenStatus.SUSPENDED,
    "D": TokenStatus.DELETED,
    "U": TokenStatus.INACTIVE,
}
TYPE = {"F": TokenType.CARD_ON_FILE, "C": TokenType.DEVICE, "S": TokenType.DEVICE}


class MdesAdapter(HttpTokenServiceAdapter):
    name = "mdes"
    settings_prefix = "MDES"

    def tokens_for_card(self, card: Card, prepared: Any = None) -> list[NetworkToken]:
        """Every MDES token of the card. Raises TokenServiceError (transient or permanent)."""
        body = self._post("/search", {"SearchRequest": {"AccountPan": card.pan.reveal()}})
        try:
            accounts = as_list(body["SearchResponse"]["Accounts"]["Account"])
        except (KeyError, TypeError):
            if isinstance(body, dict) and isinstance(body.get("SearchResponse"), dict):
                return []  # no account: the card has no tokens
            raise malformed(self.name, "no SearchResponse") from None
        tokens = []
        for account in accounts:
            if not isinstance(account, dict):
                raise malformed(self.name, "account is not an object")
            token_list = account.get("Tokens") or {}
            if not isinstance(token_list, dict):
                raise malformed(self.name, "Tokens is not an object")
            for token in as_list(token_list.get("Token")):
                tokens.append(self._token(token))
        return tokens

    def _token(self, token: Any) -> NetworkToken:
        if not isinstance(token, dict):
            raise malformed(self.name, "token is not an object")
        reference = token.get("TokenUniqueReference")
        trid = token.get("TokenRequestorId")
        if not isinstance(reference, str) or not reference or not isinstance(trid, str | int):
            raise malformed(self.name, "token without reference or requestor")
        code = token.get("CurrentStatusCode")
        if code not in STATUS:
            # A code we do not know never counts as an active token.
            logger.warning("mdes: unknown token status code %r treated as inactive", code)
        device = token.get("Device") if isinstance(token.get("Device"), dict) else {}
        return NetworkToken(
            token_reference=reference,
            trid=str(trid),
            status=STATUS.get(code, TokenStatus.INACTIVE),
            token_type=TYPE.get(token.get("TokenType"), TokenType.UNKNOWN),
            device_name=str(device.get("DeviceName") or "")[:100],
            updated_at=parse_timestamp(token.get("CurrentStatusDateTime")),
        )

"""Mastercard: shaped after the MDES Customer Service API's token search.

Request  ``POST {MDES_BASE_URL}/search`` ``{"SearchRequest": {"AccountPan": "<PAN>"}}``.
Response ``{"SearchResponse": {"Accounts": {"Account": [{"Tokens": {"Token": [ ... ]}}]}}}``
with ``TokenUniqueReference``, ``TokenRequestorId``, ``CurrentStatusCode`` (A active,
S suspended, D deactivated, U unmapped/inactive), ``TokenType`` (F card on file; C cloud and
S secure element are device tokens), ``Device.DeviceName``, ``CurrentStatusDateTime``.
The API cannot filter by token requestor, so every token comes back; status derivation filters.
"""

from __future__ import annotations

from typing import Any

from issuer_portal.cards.models import Card
from tokens.adapters.base import NetworkToken
from tokens.adapters.http import HttpTokenServiceAdapter, as_list, checked_token, malformed
from tokens.models import TokenStatus, TokenType

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
        return checked_token(
            self.name,
            reference=token.get("TokenUniqueReference"),
            trid=token.get("TokenRequestorId"),
            status=str(token.get("CurrentStatusCode")),
            statuses=STATUS,
            token_type=TYPE.get(token.get("TokenType"), TokenType.UNKNOWN),
            device=token.get("Device"),
            updated_at=token.get("CurrentStatusDateTime"),
        )

"""Mastercard: shaped after the MDES Customer Service API's token search.

Request  ``POST {MDES_BASE_URL}/search`` ``{"SearchRequest": {"AccountPan": "<PAN>"}}``.
Response ``{"SearchResponse": {"Accounts": {"Account": [{"Tokens": {"Token": [ ... ]}}]}}}``
with ``TokenUniqueReference``, ``TokenRequestorId``, ``CurrentStatusCode`` (A active,
S suspended, D deactivated, U unmapped/inactive), ``TokenType`` (F card on file; C cloud and
S secure element are device tokens), ``Device.DeviceName``, ``CurrentStatusDateTime``.
The API cannot filter by token requestor, so every token comes back; status derivation filters.
``Device.DeviceId`` is the device's stable id.

Changes, up to 10 references per call: ``POST {MDES_BASE_URL}/suspend`` (``/unsuspend``,
``/delete``) ``{"SuspendRequest": {"TokenUniqueReferences": [...], "ReasonCode": "L",
"AuditInfo": {"UserType": "CARDHOLDER"}}}``, and ``/updateAccount`` ``{"UpdateAccountRequest":
{"TokenUniqueReferences": [...], "NewAccountPan": ..., "NewExpiryDate": "MMYY", ...}}``.
Response ``{"<Name>Response": {"Tokens": {"Token": [{"TokenUniqueReference",
"CurrentStatusCode"}]}}}``; a token already in the asked-for state comes back in it with an
``ErrorCode`` of ``TOKEN_ALREADY_IN_STATE``, which is success.
"""

from __future__ import annotations

from typing import Any

from issuer_portal.cards.models import Card
from tokens.adapters.base import ChangeOrder, NetworkToken, TokenServiceError
from tokens.adapters.http import HttpTokenServiceAdapter, as_list, checked_token, malformed
from tokens.models import Actor, ChangeReason, TokenAction, TokenStatus, TokenType

STATUS = {
    "A": TokenStatus.ACTIVE,
    "S": TokenStatus.SUSPENDED,
    "D": TokenStatus.DELETED,
    "U": TokenStatus.INACTIVE,
}
TYPE = {"F": TokenType.CARD_ON_FILE, "C": TokenType.DEVICE, "S": TokenType.DEVICE}
CALL = {
    TokenAction.SUSPEND: "Suspend",
    TokenAction.RESUME: "Unsuspend",
    TokenAction.DELETE: "Delete",
    TokenAction.UPDATE_FUNDING_ACCOUNT: "UpdateAccount",
}
REASON = {
    ChangeReason.DEVICE_LOST: "L",
    ChangeReason.DEVICE_STOLEN: "S",
    ChangeReason.SUSPECTED_FRAUD: "F",
    ChangeReason.CARDHOLDER_REQUEST: "C",
    ChangeReason.ACCOUNT_CLOSED: "Z",
    ChangeReason.CARD_REISSUED: "R",
    ChangeReason.OTHER: "O",
}
USER_TYPE = {
    Actor.CARDHOLDER: "CARDHOLDER",
    Actor.BANK_STAFF: "CUSTOMER_SERVICE",
    Actor.BANK_SYSTEM: "ISSUER_SYSTEM",
}
ALREADY = "TOKEN_ALREADY_IN_STATE"


class MdesAdapter(HttpTokenServiceAdapter):
    name = "mdes"
    settings_prefix = "MDES"
    max_references_per_call = 10

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

    def _send_change(self, order: ChangeOrder, references: list[str]) -> dict[str, TokenStatus]:
        """One MDES change call for up to 10 references. Raises TokenServiceError."""
        name = CALL[order.action]
        request: dict[str, Any] = {
            "TokenUniqueReferences": references,
            "ReasonCode": REASON[order.reason],
            "AuditInfo": {"UserType": USER_TYPE[order.actor]},
        }
        if order.new_card is not None:
            request["NewAccountPan"] = order.new_card.pan.reveal()
            year, month = order.new_card.expiry.split("-")  # stored as YYYY-MM
            request["NewExpiryDate"] = month + year[2:]
        body = self._post(f"/{name[0].lower()}{name[1:]}", {f"{name}Request": request})
        try:
            tokens = as_list(body[f"{name}Response"]["Tokens"]["Token"])
        except (KeyError, TypeError):
            raise malformed(self.name, f"no {name}Response") from None
        statuses = {}
        for token in tokens:
            if not isinstance(token, dict) or token.get("TokenUniqueReference") not in references:
                raise malformed(self.name, "a token of the answer was not asked for")
            error = token.get("ErrorCode")
            if error and error != ALREADY:
                raise TokenServiceError(f"{self.name}: {name} refused ({error})", permanent=True)
            code = str(token.get("CurrentStatusCode"))
            if code not in STATUS:
                raise malformed(self.name, "unknown status after a change")
            statuses[token["TokenUniqueReference"]] = STATUS[code]
        return statuses

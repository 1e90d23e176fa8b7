"""Visa: shaped after VTS issuer token inquiry.

Request  ``POST {VTS_BASE_URL}/pan/retrieveTokenInfo`` ``{"panData": {"pan": "<PAN>"}}``.
Response ``{"tokenDetails": [{"tokenReferenceID", "tokenRequestorID", "tokenType",
"tokenStatus", "deviceInfo": {"deviceName"}, "lastUpdatedTimestamp"}]}``.
``tokenStatus``: ACTIVE, SUSPENDED, INACTIVE, DEACTIVATED. ``tokenType``: CARD_ON_FILE or
ECOMMERCE (card on file), SECURE_ELEMENT, HCE or CLOUD (device); ``deviceInfo.deviceID`` is
the device's stable id.

Changes, one reference per call: ``POST {VTS_BASE_URL}/token/lifecycle`` ``{"tokenReferenceID",
"operationType": "SUSPEND" | "RESUME" | "DELETE", "operationReasonCode", "requestor"}`` and
``POST {VTS_BASE_URL}/token/updatePan`` ``{"tokenReferenceID", "panData": {"pan", "exp":
{"month", "year"}}, ...}``. Response ``{"tokenReferenceID", "tokenStatus"}``; a token already in
the asked-for state is answered ``409 {"errorResponse": {"reason": "tokenStatusAlreadySet",
"tokenStatus": ...}}``, which is success.
"""

from __future__ import annotations

from typing import Any

from issuer_portal.cards.models import Card
from issuer_portal.core.outbound import OutboundError
from tokens.adapters.base import ChangeOrder, NetworkToken
from tokens.adapters.http import HttpTokenServiceAdapter, checked_token, json_body, malformed
from tokens.models import Actor, ChangeReason, TokenAction, TokenStatus, TokenType

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


OPERATION = {
    TokenAction.SUSPEND: "SUSPEND",
    TokenAction.RESUME: "RESUME",
    TokenAction.DELETE: "DELETE",
}
REASON = {
    ChangeReason.DEVICE_LOST: "DEVICE_LOST",
    ChangeReason.DEVICE_STOLEN: "DEVICE_STOLEN",
    ChangeReason.SUSPECTED_FRAUD: "FRAUD",
    ChangeReason.CARDHOLDER_REQUEST: "CUSTOMER_REQUEST",
    ChangeReason.ACCOUNT_CLOSED: "ACCOUNT_CLOSED",
    ChangeReason.CARD_REISSUED: "ACCOUNT_REISSUED",
    ChangeReason.OTHER: "OTHER",
}
REQUESTOR = {
    Actor.CARDHOLDER: "CARDHOLDER",
    Actor.BANK_STAFF: "ISSUER_AGENT",
    Actor.BANK_SYSTEM: "ISSUER_SYSTEM",
}


def _already_set(error: OutboundError) -> Any:
    """409 "already in that state": the answer's token status, as a success body."""
    body = json_body(error) if error.status == 409 else None
    problem = body.get("errorResponse") if isinstance(body, dict) else None
    if isinstance(problem, dict) and problem.get("reason") == "tokenStatusAlreadySet":
        return {"tokenStatus": problem.get("tokenStatus")}
    return None


class VtsAdapter(HttpTokenServiceAdapter):
    name = "vts"
    settings_prefix = "VTS"
    max_references_per_call = 1

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

    def _send_change(self, order: ChangeOrder, references: list[str]) -> dict[str, TokenStatus]:
        """One VTS call for one reference. Raises TokenServiceError."""
        (reference,) = references
        common = {
            "tokenReferenceID": reference,
            "operationReasonCode": REASON[order.reason],
            "requestor": REQUESTOR[order.actor],
        }
        if order.new_card is not None:  # a funding-account update
            year, month = order.new_card.expiry.split("-")  # stored as YYYY-MM
            body = self._post(
                "/token/updatePan",
                {
                    **common,
                    "panData": {
                        "pan": order.new_card.pan.reveal(),
                        "exp": {"month": month, "year": year},
                    },
                },
            )
        else:
            body = self._post(
                "/token/lifecycle",
                {**common, "operationType": OPERATION[order.action]},
                accept=_already_set,
            )
        status = str(body.get("tokenStatus", "")).upper() if isinstance(body, dict) else ""
        if status not in STATUS:
            raise malformed(self.name, "no known tokenStatus after a change")
        return {reference: STATUS[status]}

"""Local token services that keep tokens and answer the MDES-style and VTS-style calls (search
and lifecycle) over real HTTP, for the adapters' lifecycle tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tests.fakes import Answer, Recorded

MDES_STATUS = {"active": "A", "suspended": "S", "deleted": "D", "inactive": "U"}
VTS_STATUS = {"active": "ACTIVE", "suspended": "SUSPENDED", "deleted": "DEACTIVATED"}
AFTER = {
    "suspend": "suspended",
    "unsuspend": "active",
    "SUSPEND": "suspended",
    "RESUME": "active",
    "delete": "deleted",
    "DELETE": "deleted",
}


@dataclass
class StoredToken:
    pan: str
    trid: str
    status: str = "active"
    device_id: str = ""
    device_name: str = ""
    kind: str = "device"


@dataclass
class TokenStore:
    """What the token service holds; ``down`` answers every call 503."""

    tokens: dict[str, StoredToken] = field(default_factory=dict)
    down: bool = False
    changes: list[tuple[str, str]] = field(default_factory=list)  # (call, reference)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, reference: str, pan: str, trid: str, **values: str) -> None:
        self.tokens[reference] = StoredToken(pan=pan, trid=trid, **values)

    def mdes(self, request: Recorded) -> Answer:
        if self.down:
            return Answer(status=503, body=b"down", content_type="text/plain")
        call = request.path.rsplit("/", 1)[1]
        body = request.json()
        if call == "search":
            pan = body["SearchRequest"]["AccountPan"]
            found = [
                {
                    "TokenUniqueReference": ref,
                    "TokenRequestorId": t.trid,
                    "CurrentStatusCode": MDES_STATUS[t.status],
                    "TokenType": "F" if t.kind == "ecom" else "C",
                    "Device": {"DeviceId": t.device_id, "DeviceName": t.device_name},
                }
                for ref, t in self.tokens.items()
                if t.pan == pan
            ]
            return Answer(
                body={"SearchResponse": {"Accounts": {"Account": [{"Tokens": {"Token": found}}]}}}
            )
        name = call[0].upper() + call[1:]
        request_body = body[f"{name}Request"]
        answered = []
        with self.lock:
            for ref in request_body["TokenUniqueReferences"]:
                token = self.tokens[ref]
                self.changes.append((call, ref))
                item = {"TokenUniqueReference": ref}
                if call == "updateAccount":
                    token.pan = request_body["NewAccountPan"]
                elif token.status == AFTER[call]:
                    item["ErrorCode"] = "TOKEN_ALREADY_IN_STATE"
                else:
                    token.status = AFTER[call]
                item["CurrentStatusCode"] = MDES_STATUS[token.status]
                answered.append(item)
        return Answer(body={f"{name}Response": {"Tokens": {"Token": answered}}})

    def vts(self, request: Recorded) -> Answer:
        if self.down:
            return Answer(status=503, body=b"down", content_type="text/plain")
        body = request.json()
        if request.path.endswith("/pan/retrieveTokenInfo"):
            pan = body["panData"]["pan"]
            found = [
                {
                    "tokenReferenceID": ref,
                    "tokenRequestorID": t.trid,
                    "tokenType": "CARD_ON_FILE" if t.kind == "ecom" else "HCE",
                    "tokenStatus": VTS_STATUS[t.status],
                    "deviceInfo": {"deviceID": t.device_id, "deviceName": t.device_name},
                }
                for ref, t in self.tokens.items()
                if t.pan == pan
            ]
            return Answer(body={"tokenDetails": found})
        ref = body["tokenReferenceID"]
        with self.lock:
            token = self.tokens.get(ref)
            if token is None:
                return Answer(status=404, body={"errorResponse": {"reason": "tokenNotFound"}})
            if request.path.endswith("/token/updatePan"):
                self.changes.append(("updatePan", ref))
                token.pan = body["panData"]["pan"]
            else:
                operation = body["operationType"]
                self.changes.append((operation, ref))
                if token.status == AFTER[operation]:
                    return Answer(
                        status=409,
                        body={
                            "errorResponse": {
                                "reason": "tokenStatusAlreadySet",
                                "tokenStatus": VTS_STATUS[token.status],
                            }
                        },
                    )
                token.status = AFTER[operation]
        return Answer(body={"tokenReferenceID": ref, "tokenStatus": VTS_STATUS[token.status]})

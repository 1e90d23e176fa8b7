"""The built-in Vipps sandbox: a real HTTPS server with mutual TLS that behaves like Vipps.

It checks every header and field of "Initiate card provisioning", decrypts the JWE with its own
key, checks that ``last4`` matches the PAN, and answers with a universal link to the sandbox's
"Vipps app" page (served by the portal under /sandbox/vipps/). Tests queue faults on
``VippsSandbox.faults``: "503", "500", "400", "401", "slow:SECONDS", "malformed", "html",
"empty", "badhost"; ``latency`` (seconds): every answer comes that long after its request
arrived, like a slow Vipps; while ``outage`` is set every answer is a 503. The sandbox keeps no
card data: it remembers requests without their bodies (``arrived``: each request's X-Request-ID
as it arrives; ``seen``: as answered).
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from jwcrypto import jwe, jwk

from issuer_portal.cards.models import Card
from issuer_portal.cards.nin import normalize_nin
from provisioning.sandbox.material import SandboxMaterial, sandbox_material
from provisioning.vipps import SANDBOX_PATH, UNIVERSAL_LINK_FIELD

LINK_SALT = "vipps-sandbox-link"
_UUIDISH = re.compile(r"^[A-Za-z0-9-]{8,100}$")


@dataclass(frozen=True)
class SeenRequest:
    """What the sandbox noted of one request: headers that matter, never the body."""

    request_id: str
    trace_id: str
    system_name: str
    status: int
    received_at: float = 0.0  # time.time() when the request arrived
    resumed_session: bool = False  # its connection resumed an earlier TLS session


@dataclass
class VippsSandbox:
    material: SandboxMaterial
    port: int = 0
    faults: deque[str] = field(default_factory=deque)
    seen: list[SeenRequest] = field(default_factory=list)
    connections: int = 0  # TLS connections accepted: shows connection reuse
    latency: float = 0.0  # seconds added to every answer
    outage: bool = False  # Vipps is down: every answer is a 503 until this is cleared
    arrived: list[tuple[str, float]] = field(default_factory=list)  # (X-Request-ID, time.time())

    def start(self) -> VippsSandbox:
        sandbox = self
        private_key = _private_key(str(self.material.jwe_private_key))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, every keep-alive request stalls ~40 ms on Nagle + delayed ACK.
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                sandbox.connections += 1

            def do_POST(self) -> None:
                received_at = time.time()
                sandbox.arrived.append((self.headers.get("X-Request-ID", ""), received_at))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1_000_000))
                status, payload, content_type = sandbox.answer(
                    self.path, self.headers, body, private_key
                )
                sandbox.seen.append(
                    SeenRequest(
                        request_id=self.headers.get("X-Request-ID", ""),
                        trace_id=self.headers.get("X-Trace-ID", ""),
                        system_name=self.headers.get("Vipps-System-Name", ""),
                        status=status,
                        received_at=received_at,
                        resumed_session=self.connection.session_reused,
                    )
                )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass  # request lines could be logged, but never bodies: keep it quiet

        self.httpd = _Server(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        # Refused handshakes (no or foreign client certificate) are expected; stay quiet.
        self.httpd.handle_error = lambda request, client_address: None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.material.server_cert, self.material.server_key)
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: our CA's client certificates only
        context.load_verify_locations(self.material.ca_cert)
        self.httpd.socket = context.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{SANDBOX_PATH}"

    # --- behaviour ---------------------------------------------------------------------------

    def answer(
        self, path: str, headers: Any, body: bytes, private_key: jwk.JWK
    ) -> tuple[int, bytes, str]:
        """The answer, ``latency`` seconds after the request arrived: like Vipps, whose answer
        time includes its own work (here decrypting the JWE), not the work on top of it."""
        due = time.monotonic() + self.latency
        answer = self._answer(path, headers, body, private_key)
        remaining = due - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        return answer

    def _answer(
        self, path: str, headers: Any, body: bytes, private_key: jwk.JWK
    ) -> tuple[int, bytes, str]:
        if self.outage:
            return _error(503, "SERVICE_UNAVAILABLE", "sandbox: outage")
        fault = self.faults.popleft() if self.faults else ""
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = ""
        if fault in ("500", "503"):
            return _error(int(fault), "INTERNAL_SERVER_ERROR", "sandbox: injected outage")
        if fault == "401":
            return _error(401, "UNAUTHORIZED", "sandbox: injected credential failure")
        if fault == "400":
            # Shaped like a real validation answer, rejected value included: we must drop it.
            try:
                nin = str(json.loads(body).get("nin", ""))
            except (ValueError, AttributeError):
                nin = ""
            return _error(
                400,
                "REQUEST_VALIDATION_ERROR",
                "sandbox: injected validation error",
                [
                    {
                        "field": "nin",
                        "message": "must be valid for countryCode",
                        "rejectedValue": nin,
                    },
                    f"issuerName '{nin}' is not a registered issuer",
                ],
            )
        if fault == "html":
            return 502, b"<html><body>Bad gateway</body></html>", "text/html"
        if fault == "empty":
            return 503, b"", "application/json"
        if path != SANDBOX_PATH:
            return _error(404, "NOT_FOUND", "no such endpoint")
        problems, card_data, request = self.validate(headers, body, private_key)
        if problems:
            return _error(400, "REQUEST_VALIDATION_ERROR", "invalid request", problems)
        if fault == "malformed":
            return 200, b'{"universal', "application/json"
        token = signing.dumps(
            {
                "h": Card.pan_lookup_hash(card_data["pan"]),
                "r": request.get("returnUrl"),
                "c": request["countryCode"],
            },
            salt=LINK_SALT,
        )
        host = "https://sandbox-evil.example" if fault == "badhost" else settings.PUBLIC_BASE_URL
        link = f"{host}/sandbox/vipps/app/?t={token}"
        return 200, json.dumps({UNIVERSAL_LINK_FIELD: link}).encode(), "application/json"

    def validate(
        self, headers: Any, body: bytes, private_key: jwk.JWK
    ) -> tuple[list[str], dict[str, str], dict[str, Any]]:
        problems: list[str] = []
        for name in ("X-Request-ID", "X-Trace-ID"):
            if not _UUIDISH.match(headers.get(name, "")):
                problems.append(f"header {name} is required")
        for name in ("Vipps-System-Name", "Vipps-System-Version"):
            if not 1 <= len(headers.get(name, "")) <= 30:
                problems.append(f"header {name} must have 1-30 characters")
        if not headers.get("Content-Type", "").startswith("application/json"):
            problems.append("Content-Type must be application/json")
        try:
            request = json.loads(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return [*problems, "body must be a JSON object"], {}, {}
        allowed = {
            "encryptedCardData",
            "countryCode",
            "nin",
            "returnUrl",
            "issuerName",
            "appSwitch",
            "last4",
            "suggestedNickname",
        }
        problems += [f"unknown field {name}" for name in sorted(set(request) - allowed)]
        country = request.get("countryCode")
        if country not in ("NO", "DK", "FI", "SE"):
            problems.append("countryCode must be an ISO 3166-1 alpha-2 code we serve")
        nin = request.get("nin")
        if not isinstance(nin, str) or not nin:
            problems.append("nin is required")
        elif country in ("NO", "DK", "FI", "SE"):
            try:
                normalize_nin(country, nin)
            except Exception:  # noqa: BLE001 - any validation failure is a validation error
                problems.append("nin is not valid for countryCode")
        issuer = request.get("issuerName")
        if not isinstance(issuer, str) or not 1 <= len(issuer) <= 255:
            problems.append("issuerName must have 1-255 characters")
        if request.get("appSwitch") is not True:
            problems.append("appSwitch must be true (false is not supported)")
        last4 = request.get("last4")
        if not isinstance(last4, str) or not re.fullmatch(r"\d{4}", last4):
            problems.append("last4 must be four digits")
        return_url = request.get("returnUrl")
        if return_url is not None and (
            not isinstance(return_url, str) or not re.match(r"^https?://", return_url)
        ):
            problems.append("returnUrl must be null or an absolute URI")
        nickname = request.get("suggestedNickname")
        if nickname is not None and (not isinstance(nickname, str) or not 5 <= len(nickname) <= 25):
            problems.append("suggestedNickname must be null or 5-25 characters")
        card_data: dict[str, str] = {}
        token = request.get("encryptedCardData")
        if not isinstance(token, str):
            problems.append("encryptedCardData is required")
        else:
            card_data = self._decrypt(token, private_key, problems)
            if card_data and isinstance(last4, str) and card_data["pan"][-4:] != last4:
                problems.append("last4 does not match the card number")
        return problems, card_data, request

    def _decrypt(self, token: str, private_key: jwk.JWK, problems: list[str]) -> dict[str, str]:
        try:
            message = jwe.JWE()
            message.deserialize(token, key=private_key)
            header = json.loads(message.objects["protected"])
        except Exception:  # noqa: BLE001 - anything that does not decrypt is invalid
            problems.append("encryptedCardData cannot be decrypted with the sandbox key")
            return {}
        if set(header) != {"alg", "enc", "kid"} or header["alg"] != "RSA-OAEP-256":
            problems.append("JWE header must be exactly alg RSA-OAEP-256, enc, kid")
        if header.get("enc") not in ("A128GCM", "A256GCM"):
            problems.append("JWE enc must be AES-GCM")
        if header.get("kid") != self.material.jwe_kid:
            problems.append("JWE kid is not the sandbox key's")
        try:
            data = json.loads(message.payload)
        except ValueError:
            data = None
        if (
            not isinstance(data, dict)
            or set(data) != {"pan", "expiry"}
            or not re.fullmatch(r"\d{13,19}", str(data.get("pan")))
            or not re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", str(data.get("expiry")))
        ):
            problems.append('JWE payload must be exactly {"pan": digits, "expiry": "YYYY-MM"}')
            return {}
        return data


@lru_cache(maxsize=4)
def _private_key(path: str) -> jwk.JWK:
    # Loaded once per process: a 4096-bit key takes a noticeable moment to load. jwcrypto builds
    # (and validates) the RSA key object on first use, without a lock: a crowd arriving at a cold
    # sandbox built it once per request, about 2.5 s of CPU for 40, so the first crowd met a
    # Vipps far slower than the 300 ms it stands for. Built here, once, before anyone calls.
    key = jwk.JWK.from_pem(Path(path).read_bytes())
    key.get_op_key("unwrapKey")
    return key


def _error(
    status: int, code: str, message: str, details: list[str | dict] | None = None
) -> tuple[int, bytes, str]:
    body = {
        "code": code,
        "message": message,
        "details": details or [],
        "traceId": str(uuid.uuid4()),
    }
    return status, json.dumps(body).encode(), "application/json"


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops the connections of a crowd: their SYNs are
    # retried after a second, which Vipps' own servers would not do to us.
    request_queue_size = 128


def start_sandbox(port: int | None = None, *, latency: float = 0.0) -> VippsSandbox:
    """Start the sandbox on ``port`` (VIPPS_SANDBOX_PORT by default; 0 picks a free one), adding
    ``latency`` seconds to every answer."""
    return VippsSandbox(
        material=sandbox_material(),
        port=settings.VIPPS_SANDBOX_PORT if port is None else port,
        latency=latency,
    ).start()

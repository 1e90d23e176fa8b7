"""Real local HTTP(S) servers that tests script: answers, delays, TLS and client certificates."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from issuer_portal.core.pki import Issued, issue, make_ca


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections when a test opens ten at once
    # (the client then retries after a second, past short connect timeouts).
    request_queue_size = 128


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict | list = b""
    delay: float = 0.0
    content_type: str = "application/json"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class UnexpectedRequest(AssertionError):
    """A fake received a request its script has no answer for."""


@dataclass
class FakeServer:
    """Start with ``start()``; ``answer`` decides every response from the recorded request.

    Fails closed: there is no default answer, an ``answer`` that raises (e.g. for a path it does
    not expect) gets the client a 500, and ``stop()`` then raises UnexpectedRequest, so a test
    can never pass on a request nobody scripted.
    """

    answer: Callable[[Recorded], Answer]
    tls: bool = False
    require_client_cert: bool = False
    server_cert: Issued | None = None
    ca: Issued | None = None
    requests: list[Recorded] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def start(self, directory: Path | None = None) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.path, dict(self.headers.items()), self.rfile.read(length))
                fake.requests.append(recorded)
                try:
                    answer = fake.answer(recorded)
                except Exception as error:  # noqa: BLE001 - reported by stop()
                    fake.unexpected.append(f"{self.command} {self.path}: {error!r}")
                    answer = Answer(status=500, body={"error": "unexpected request"})
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body
                if isinstance(body, dict | list):
                    body = json.dumps(body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if self.tls:
            assert directory is not None
            self.ca = self.ca or make_ca("Fake token service CA")
            self.server_cert = self.server_cert or issue(self.ca, "127.0.0.1", server=True)
            cert, key = self.server_cert.write(directory, "fake-server")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            if self.require_client_cert:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(cadata=self.ca.cert_pem().decode())
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.unexpected:
            raise UnexpectedRequest("; ".join(self.unexpected))

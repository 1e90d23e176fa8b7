"""Slow and hostile clients against the shipped server configuration: gunicorn.conf.py behind
the shipped HAProxy front (deploy/haproxy/haproxy.cfg). A slow-loris crowd that never finishes
its requests, a body that never comes, and bodies and headers beyond the limits.

Without the front, 300 such connections hold all 128 threads of gunicorn's shipped
configuration and health checks go unanswered (measured; see the README's "Reliability")."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time

import pytest

from tests.faults.stack import record_figures

pytestmark = pytest.mark.faults

LORIS = 300  # more connections than the server has threads (2 workers x 64)
LORIS_S = 8.0


def _loris(stack, stop: threading.Event, opened: list[int]) -> None:
    """Open a TLS connection, start a request and send one more header byte a second."""
    try:
        raw = socket.create_connection(("127.0.0.1", stack.web_port), timeout=10)
        tls = stack.server.context.wrap_socket(raw, server_hostname="127.0.0.1")
        tls.sendall(b"GET /cards/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        opened.append(1)
        while not stop.wait(1.0):
            tls.sendall(b"a")
    except (OSError, ssl.SSLError):
        return  # the server closed it: that is what we want


def _healthz_ms(stack) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", stack.web_port, context=stack.server.context, timeout=5
        )
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    except OSError:
        status = 0
    return status, (time.perf_counter() - started) * 1000


def _raw_request(stack, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    """Send ``head`` (and ``body``), return the status line and the seconds until it came."""
    started = time.perf_counter()
    raw = socket.create_connection(("127.0.0.1", stack.web_port), timeout=20)
    with stack.server.context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        try:
            tls.sendall(head + body)
        except OSError:
            pass  # refused before all was sent: the answer may still be there to read
        try:
            answer = tls.recv(200)
        except OSError:
            answer = b"(connection closed without an answer)"
    return answer.split(b"\r\n", 1)[0], time.perf_counter() - started


def test_a_slow_loris_crowd_does_not_take_the_server_out_of_service(make_stack):
    stack = make_stack(behind_proxy=True)
    stack.start_redis()
    stack.start_web()
    stop, opened = threading.Event(), []
    crowd = [threading.Thread(target=_loris, args=(stack, stop, opened)) for _ in range(LORIS)]
    for thread in crowd:
        thread.start()
    time.sleep(2)
    answers = []
    ends = time.monotonic() + LORIS_S
    while time.monotonic() < ends:
        answers.append(_healthz_ms(stack))
        time.sleep(0.2)
    stop.set()
    for thread in crowd:
        thread.join(15)
    # A body announced and never sent, and bodies and headers over the limits: each answered
    # by the front, none reaches a gunicorn thread.
    never_sent, waited = _raw_request(
        stack,
        b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
    )
    assert never_sent.startswith(b"HTTP/1.1 408") and waited < 15
    too_big, big_s = _raw_request(
        stack,
        b"POST /api/v1/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n",
        b"{" * 65536,
    )
    assert too_big.startswith(b"HTTP/1.1 413") and big_s < 2
    huge_header, _ = _raw_request(
        stack, b"GET /cards/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n"
    )
    assert huge_header.split(b" ")[1] in (b"400", b"431")
    assert _healthz_ms(stack)[0] == 200
    statuses = {status for status, _ in answers}
    slowest = max(ms for _, ms in answers)
    assert statuses == {200}, answers
    assert slowest < 1000, answers
    record_figures(
        "slow_loris",
        slow_connections=len(opened),
        server_threads=128,
        health_checks_answered=f"{sum(s == 200 for s, _ in answers)}/{len(answers)}",
        slowest_health_check_ms=round(slowest),
        body_never_sent=f"{never_sent.decode()} after {waited:.1f} s",
        body_over_1_MiB=f"{too_big.decode()} in {big_s * 1000:.0f} ms",
        header_over_limit=huge_header.decode(),
    )

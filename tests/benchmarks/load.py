"""Load the server benchmark puts on the portal where wrk does not fit: requests timed one at a
time (the cold card list, whose cache is emptied before each), and a crowd of cardholders who
press "Add" at the same instant, each with their own session, CSRF token and connection."""

from __future__ import annotations

import http.client
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


@dataclass(frozen=True)
class Browser:
    """A signed-in cardholder's browser: its session, and the card it will add."""

    session: str
    card: str = ""
    csrf: str = ""

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session}" + (f"; csrftoken={self.csrf}" if self.csrf else "")


class Server:
    def __init__(self, port: int, ca_cert: Path) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(ca_cert))

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def connect(self) -> http.client.HTTPSConnection:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context)
        connection.connect()
        return connection

    def sign_in(self, browser: Browser, connection: http.client.HTTPSConnection) -> Browser:
        """Open the card list once, as the cardholder does before pressing: the browser gets its
        CSRF cookie and the card's wallet state is looked up (and cached)."""
        status, headers, _ = request(connection, "GET", "/cards/", browser)
        if status != 200:
            raise RuntimeError(f"card list answered {status}")
        csrf = csrf_cookie(headers)
        return Browser(session=browser.session, card=browser.card, csrf=csrf or browser.csrf)


def csrf_cookie(headers: list[tuple[str, str]]) -> str:
    """The CSRF cookie a response sets, or ""."""
    for name, value in headers:
        if name.lower() == "set-cookie" and value.startswith("csrftoken="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return ""


def request(
    connection: http.client.HTTPSConnection,
    method: str,
    path: str,
    browser: Browser,
    origin: str = "",
) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = {"Cookie": browser.cookie, "User-Agent": PHONE}
    if method == "POST":
        # The form's CSRF token, as a page's form would send it (the cookie's secret is valid).
        headers |= {"X-CSRFToken": browser.csrf, "Origin": origin, "Content-Length": "0"}
    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    return response.status, response.getheaders(), body


def timed_gets(
    server: Server, path: str, browser: Browser, count: int, before_each: Callable[[], None]
) -> list[float]:
    """``count`` GETs of ``path`` one after another on one keep-alive connection, in ms; each
    after ``before_each`` (untimed)."""
    connection = server.connect()
    times = []
    for _ in range(count):
        before_each()
        started = time.perf_counter()
        status, _, _ = request(connection, "GET", path, browser)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
    connection.close()
    return times


@dataclass(frozen=True)
class Press:
    card: str
    status: int
    location: str
    ms: float


def press_together(server: Server, browsers: list[Browser], path: str) -> list[Press]:
    """Every browser POSTs ``path`` (``{card}`` filled in) at the same instant, each on its own
    connection that is already open (a phone that has just shown the card list)."""
    connections = [server.connect() for _ in browsers]
    start = threading.Barrier(len(browsers))
    presses: list[Press | None] = [None] * len(browsers)

    def press(index: int) -> None:
        browser, connection = browsers[index], connections[index]
        start.wait()
        started = time.perf_counter()
        try:
            status, headers, _ = request(
                connection, "POST", path.format(card=browser.card), browser, server.origin
            )
        except (OSError, http.client.HTTPException):
            status, headers = 0, []
        presses[index] = Press(
            card=browser.card,
            status=status,
            location=dict((k.lower(), v) for k, v in headers).get("location", ""),
            ms=(time.perf_counter() - started) * 1000,
        )

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for connection in connections:
        connection.close()
    return [p for p in presses if p is not None]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p99 of 40 values is the largest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)

"""The portal as a bank runs it, in real processes, for the fault suite: gunicorn over TLS with
the shipped configuration, Celery workers and beat, a Redis of its own (cache and broker) that a
test may kill and restart, this test's PostgreSQL database, and the built-in Vipps sandbox over
mutual TLS in the test process, where the test scripts Vipps' answers and reads what it received.

Every setting that paces recovery is shortened through the environment, as a bank could; the
figures each scenario prints are measured from outside: HTTP, the sandbox's records, the database.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.benchmarks.load import Browser, Server, request
from tests.processes import BASE_DIR, celery_worker_command, free_port, gunicorn_command

SHIPPED_PROXY = BASE_DIR / "deploy" / "haproxy" / "haproxy.cfg"
FIGURES_DIR = BASE_DIR / "var" / "faults"  # read by the run's summary (tests/conftest.py)

# Recovery settings of the suite: what a bank would set for minutes, scaled to seconds.
FAST = {
    "VIPPS_CONNECT_TIMEOUT": "1",
    "VIPPS_READ_TIMEOUT": "2",
    "VIPPS_INTERACTIVE_READ_TIMEOUT": "1",
    "PROVISIONING_CLAIM_MARGIN_SECONDS": "1",
    "PROVISIONING_SWEEP_SECONDS": "1",
    "PROVISIONING_LOST_AFTER_SECONDS": "3",
    "PROVISIONING_RETRY_BASE_SECONDS": "0.5",
    "PROVISIONING_RATE_LIMIT": "1000",
    "TOKEN_SERVICE_BREAKER_SECONDS": "30",
}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll ``condition`` until it is true; returns the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def cardholders_with_a_card(count: int) -> list[tuple]:
    """``count`` cardholders, each with one card that can be added: (cardholder, card) pairs."""
    from tests.factories import CardFactory, CardholderFactory

    pairs = []
    for _ in range(count):
        holder = CardholderFactory()
        pairs.append((holder, CardFactory(cardholder=holder)))
    return pairs


def all_linked(attempts: list) -> bool:
    """Whether every one of ``attempts`` has its link now (read from the database)."""
    from provisioning.models import ProvisioningAttempt

    linked = ProvisioningAttempt.objects.filter(pk__in=[a.pk for a in attempts], state="link_ready")
    return linked.count() == len(attempts)


def record_figures(scenario: str, folder: Path = FIGURES_DIR, **figures: object) -> None:
    """Print a scenario's figures and keep them in ``folder`` for the run's summary."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{scenario}.json").write_text(json.dumps(figures, default=str))
    print(f"\n{scenario}: {figures}")


PORTAL_APPLICATION_NAME = "fault-suite-portal"


class Stack:
    """Start the parts a scenario needs; ``stop()`` ends whatever is still running."""

    def __init__(
        self, tmp: Path, sandbox: object, *, behind_proxy: bool = False, **overrides: str
    ) -> None:
        from issuer_portal.core.pki import issue, make_ca

        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.sandbox = sandbox
        self.redis_port = free_port()
        self.web_port = free_port()  # where clients connect: gunicorn, or the proxy before it
        self.behind_proxy = behind_proxy
        self.upstream_port = free_port() if behind_proxy else self.web_port
        ca = make_ca("Fault suite CA")
        self.cert, self.key = issue(ca, "127.0.0.1", server=True).write(tmp, "web")
        self.ca_cert = ca.write(tmp, "ca")[0]
        self.server = Server(self.web_port, self.ca_cert)
        self.processes: dict[str, subprocess.Popen] = {}
        self.redis: subprocess.Popen | None = None
        db = connection.settings_dict
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "WEB_"))},
            # Named, so a scenario can drop the portal's connections and not the test's own.
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            f"?application_name={PORTAL_APPLICATION_NAME}",
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_BASE_URL": self.server.origin,
            "LOCAL_STATE_DIR": str(Path(settings.LOCAL_STATE_DIR).resolve()),
            "VIPPS_SANDBOX_DIR": str(Path(settings.VIPPS_SANDBOX_DIR).resolve()),
            "VIPPS_SANDBOX": "1",
            "VIPPS_SANDBOX_PORT": str(sandbox.port),  # type: ignore[attr-defined]
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            **(
                {"DJANGO_BEHIND_TLS_PROXY": "1", "TRUSTED_PROXY_COUNT": "1"} if behind_proxy else {}
            ),
            **FAST,
            **overrides,
        }

    # --- processes -------------------------------------------------------------------------

    def _spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start ``command`` as ``name`` (its output in ``name``.log), with the stack's
        environment or ``env``."""
        log = (self.tmp / f"{name}.log").open("a")
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env or self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def start_redis(self) -> None:
        """A Redis with nothing persisted: killing it loses every key and queued task."""
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: accepts_connections(self.redis_port), 10, "Redis starts")

    def kill_redis(self) -> None:
        assert self.redis is not None
        self.redis.kill()
        self.redis.wait(timeout=10)

    def start_web(self) -> None:
        """gunicorn with the shipped configuration: over TLS itself, or in plain HTTP behind
        the shipped HAProxy front (deploy/haproxy/haproxy.cfg), which then terminates TLS."""
        if self.behind_proxy:
            command = gunicorn_command(self.upstream_port)
            self._spawn("web", [*command, "issuer_portal.wsgi:application"])
            self.start_proxy(SHIPPED_PROXY, PORTAL_UPSTREAM=f"127.0.0.1:{self.upstream_port}")
        else:
            command = gunicorn_command(
                self.web_port, "--certfile", str(self.cert), "--keyfile", str(self.key)
            )
            self._spawn("web", [*command, "issuer_portal.wsgi:application"])
        wait_until(self._web_answers, 60, "the portal answers /healthz")

    def start_proxy(self, config: Path, **env: str) -> None:
        """HAProxy with ``config`` on the stack's public port, TLS with the stack's certificate."""
        pem = self.tmp / "proxy.pem"
        pem.write_bytes(self.cert.read_bytes() + self.key.read_bytes())
        self._spawn(
            "proxy",
            ["haproxy", "-db", "-f", str(config)],
            env={
                "PATH": os.environ["PATH"],
                "PROXY_BIND": f"127.0.0.1:{self.web_port}",
                "PROXY_CERT": str(pem),
                **env,
            },
        )

    def _web_answers(self) -> bool:
        try:
            connection = self.server.connect()
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False

    def start_worker(self, name: str = "worker") -> subprocess.Popen:
        return self._spawn(
            name, celery_worker_command("celery", pool="threads", concurrency=8, loglevel="INFO")
        )

    def start_beat(self, name: str = "beat", loglevel: str = "WARNING") -> None:
        self._spawn(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "issuer_portal",
                "beat",
                "-s",
                str(self.tmp / f"{name}-schedule"),
                f"--loglevel={loglevel}",
            ],
        )

    def start_all(self) -> None:
        """Redis, gunicorn, one worker and beat: the portal as it runs in production."""
        self.start_redis()
        self.start_web()
        self.start_worker()
        self.start_beat()

    def kill(self, name: str) -> None:
        """SIGKILL, as the OOM killer or a forced deploy does: no clean-up runs."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        if self.redis is not None and self.redis.poll() is None:
            self.kill_redis()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text() if path.exists() else ""

    # --- a cardholder's browser --------------------------------------------------------------

    def browser(self, cardholder: object, card: object, *, open_list: bool = True) -> Browser:
        """A signed-in browser of ``cardholder`` (a database session); after one card list
        (which gives it its CSRF cookie) unless ``open_list`` is false."""
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.db import SessionStore

        from issuer_portal.core.step_up import AUTHENTICATED_AT

        user = cardholder.user  # type: ignore[attr-defined]
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        # Signed in just now, as far as step-up goes ("Add" needs a recent sign-in).
        session[AUTHENTICATED_AT] = time.time()
        session.create()
        browser = Browser(session=session.session_key, card=str(card.public_id))  # type: ignore[attr-defined]
        return self.server.sign_in(browser, self.server.connect()) if open_list else browser

    def get(self, browser: Browser, path: str) -> tuple[int, str, float]:
        """One GET on a new connection: status, body, milliseconds."""
        started = time.perf_counter()
        try:
            status, _, body = request(self.server.connect(), "GET", path, browser)
        except (OSError, http.client.HTTPException):
            status, body = 0, b""
        return status, body.decode(errors="replace"), (time.perf_counter() - started) * 1000

    def press(self, browser: Browser) -> tuple[int, str, float]:
        """Press "Add" for the browser's card: status, Location, milliseconds."""
        started = time.perf_counter()
        status, headers, _ = request(
            self.server.connect(),
            "POST",
            f"/cards/{browser.card}/provision/",
            browser,
            self.server.origin,
        )
        location = dict((k.lower(), v) for k, v in headers).get("location", "")
        return status, location, (time.perf_counter() - started) * 1000


def accepts_connections(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False

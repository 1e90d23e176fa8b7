"""The portal scaled out, in real processes: N gunicorn replicas (the shipped gunicorn.conf.py)
behind HAProxy (the shipped deploy/haproxy/haproxy.cfg with one server line per replica, TLS at
the proxy, health checks on /healthz), Celery workers and beat on RabbitMQ, the cache on a Redis
of its own, this test's PostgreSQL database, and the Vipps sandbox over mutual TLS.

A replica is restarted as a platform does it: taken out of rotation first (HAProxy's runtime
API, as Kubernetes removes a terminating pod's endpoint), then stopped gracefully (SIGTERM), then
started and put back once its health check passes.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
import warnings
from pathlib import Path

from tests.benchmarks.load import PHONE, Browser, request
from tests.faults.stack import (
    SHIPPED_PROXY,
    Stack,
    accepts_connections,
    record_figures,
    wait_until,
)
from tests.processes import BASE_DIR, celery_worker_command, free_port, gunicorn_command

SHIPPED_SERVER_LINE = '    server web "${PORTAL_UPSTREAM}"\n'


class ScaleStack(Stack):
    """``replicas`` web processes behind one HAProxy; workers and beat on ``broker_url``."""

    def __init__(
        self, tmp: Path, sandbox: object, *, replicas: int, broker_url: str, **overrides: str
    ) -> None:
        self.queue = f"scale-{os.getpid()}-{time.monotonic_ns()}"
        super().__init__(
            tmp,
            sandbox,
            behind_proxy=True,
            CELERY_BROKER_URL=broker_url,
            CELERY_QUEUE=self.queue,
            **overrides,
        )
        self.broker_url = broker_url
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.admin_socket = tmp / "haproxy.sock"

    # --- web replicas and the proxy -----------------------------------------------------------

    def replica_name(self, index: int) -> str:
        return f"web{index + 1}"

    def start_replica(self, index: int) -> None:
        name = self.replica_name(index)
        # Named per replica, so its database connections can be counted.
        database = self.env["DATABASE_URL"].replace(
            "application_name=fault-suite-portal", f"application_name=scale-{name}"
        )
        command = [*gunicorn_command(self.replica_ports[index]), "issuer_portal.wsgi:application"]
        self._spawn(name, command, env={**self.env, "DATABASE_URL": database})
        wait_until(lambda: self.replica_answers(index), 60, f"{name} answers /healthz")

    def replica_answers(self, index: int, path: str = "/healthz") -> bool:
        try:
            status, _, _ = self.direct(index, "GET", path)
            return status == 200
        except OSError:
            return False

    def direct(
        self, index: int, method: str, path: str, browser: Browser | None = None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request straight to replica ``index``, with what the proxy adds (the client's
        Host, X-Forwarded-Proto: https) and, for ``browser``, its cookies and CSRF token."""
        headers = {
            "Host": f"127.0.0.1:{self.web_port}",
            "X-Forwarded-Proto": "https",
            "User-Agent": PHONE,
        }
        if browser is not None:
            headers["Cookie"] = browser.cookie
            if method == "POST":
                headers |= {"X-CSRFToken": browser.csrf, "Origin": self.server.origin}
        connection = http.client.HTTPConnection("127.0.0.1", self.replica_ports[index], timeout=30)
        try:
            body = b"" if method == "POST" else None
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def start_web(self) -> None:
        for index in range(len(self.replica_ports)):
            self.start_replica(index)
        config = SHIPPED_PROXY.read_text()
        assert SHIPPED_SERVER_LINE in config, "the shipped proxy configuration changed"
        servers = "".join(
            f"    server {self.replica_name(i)} 127.0.0.1:{port}\n"
            for i, port in enumerate(self.replica_ports)
        )
        config = config.replace(SHIPPED_SERVER_LINE, servers).replace(
            "global\n", f"global\n    stats socket {self.admin_socket} mode 600 level admin\n", 1
        )
        # Health checks every 2 s as shipped would make a restart wait for them; 0.5 s here.
        config = config.replace("check inter 2s", "check inter 500ms")
        path = self.tmp / "haproxy.cfg"
        path.write_text(config)
        self.start_proxy(path)
        wait_until(self._web_answers, 30, "the proxy answers /healthz")
        wait_until(lambda: self.servers_up() == len(self.replica_ports), 30, "all replicas up")

    def proxy_command(self, command: str) -> str:
        """One command on HAProxy's runtime API."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.admin_socket))
            admin.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := admin.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers_up(self) -> int:
        """Replicas HAProxy has in rotation (its health checks pass)."""
        lines = self.proxy_command("show servers state gunicorn").splitlines()
        # Columns: be_id be_name srv_id srv_name srv_addr srv_op_state (2: running) ...
        return sum(1 for line in lines[2:] if line.split()[5:6] == ["2"])

    def rolling_restart(self) -> list[float]:
        """Restart every replica in turn, as a rollout does; returns seconds per replica."""
        took = []
        for index in range(len(self.replica_ports)):
            started = time.monotonic()
            name = self.replica_name(index)
            self.proxy_command(f"set server gunicorn/{name} state drain")
            time.sleep(1.0)  # the proxy's in-flight requests to it finish (preStop's job)
            process = self.processes.pop(name)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)
            self.start_replica(index)
            self.proxy_command(f"set server gunicorn/{name} state ready")
            wait_until(
                lambda: self.servers_up() == len(self.replica_ports), 30, f"{name} back in rotation"
            )
            took.append(time.monotonic() - started)
        return took

    def memory_by_replica(self) -> dict[str, int]:
        """Resident memory of each replica (gunicorn's master and its workers), in MiB."""

        def rss_kib(pid: int) -> int:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
            return 0

        def children(pid: int) -> list[int]:
            found = []
            for task in Path(f"/proc/{pid}/task").iterdir():
                found += [int(child) for child in (task / "children").read_text().split()]
            return found

        memory = {}
        for index in range(len(self.replica_ports)):
            name = self.replica_name(index)
            master = self.processes[name].pid
            memory[name] = sum(rss_kib(pid) for pid in [master, *children(master)]) // 1024
        return memory

    def served_by_replica(self, path: str) -> dict[str, int]:
        """Requests for ``path`` each replica's access log shows."""
        return {
            self.replica_name(i): self.log(self.replica_name(i)).count(f" {path} HTTP/")
            for i in range(len(self.replica_ports))
        }

    # --- workers and beat on the broker ------------------------------------------------------

    def start_worker(self, name: str = "worker", concurrency: int = 8) -> subprocess.Popen:
        return self._spawn(
            name,
            [
                *celery_worker_command(
                    self.queue, pool="threads", concurrency=concurrency, loglevel="INFO"
                ),
                f"--hostname={name}@%h",
            ],
        )

    def publish(self, task_name: str, *argument_lists: list) -> None:
        """Queue ``task_name`` once per argument list on this stack's broker and queue."""
        from celery.exceptions import AlwaysEagerIgnored
        from kombu import Connection

        from issuer_portal.celery import app

        with (
            Connection(self.broker_url, connect_timeout=5) as connection,
            connection.Producer() as producer,
            warnings.catch_warnings(),
        ):
            # This process may run its own tasks eagerly; these go to the stack's workers.
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            for args in argument_lists:
                app.send_task(task_name, args=args, queue=self.queue, producer=producer)

    def stop(self) -> None:
        """Every process, then this stack's queue on the shared broker."""
        from kombu import Connection

        super().stop()
        with Connection(self.broker_url, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(self.queue)


FIGURES_DIR = BASE_DIR / "var" / "scale"  # read by the run's summary (tests/conftest.py)


def record_scale_figures(check: str, **figures: object) -> None:
    """Print a check's figures and keep them for the run's summary and the README's table."""
    record_figures(check, FIGURES_DIR, **figures)


class SteadyLoad:
    """Cardholders who keep opening their card list through the proxy (one thread and one
    keep-alive connection each) and, with ``pressers``, press "Add" one after another, until
    ``stop()``; every answer is kept: (what, status, milliseconds)."""

    def __init__(self, stack: ScaleStack, readers: list[Browser], pressers: list[Browser]) -> None:
        self.stack = stack
        self.readers = readers
        self.pressers = list(pressers)
        self.results: list[tuple[str, int, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._read, args=(browser,), daemon=True) for browser in readers
        ]
        if pressers:
            self._threads.append(threading.Thread(target=self._press, daemon=True))

    def __enter__(self) -> SteadyLoad:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        self.seconds = time.monotonic() - self.started

    def _keep(self, what: str, status: int, ms: float) -> None:
        with self._lock:
            self.results.append((what, status, ms))

    def _read(self, browser: Browser) -> None:
        connection = None
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                connection = connection or self.stack.server.connect()
                status, _, _ = request(connection, "GET", "/cards/", browser)
            except (OSError, http.client.HTTPException):
                status, connection = 0, None
            self._keep("list", status, (time.perf_counter() - started) * 1000)

    def _press(self) -> None:
        while not self._stop.is_set() and self.pressers:
            status, location, ms = self.stack.press(self.pressers.pop())
            self._keep("press", status if location else -status, ms)
            self._stop.wait(0.2)

    def failures(self) -> list[tuple[str, int, float]]:
        """Answers that are not a card list (200) or a press sent on (302/303 with a Location)."""
        return [r for r in self.results if r[1] not in (200, 302, 303)]


def start_pgbouncer(
    folder: Path, port: int, database_host: str, database_port: int
) -> subprocess.Popen:
    """PgBouncer in transaction mode on 127.0.0.1:``port`` before the test's PostgreSQL (trust
    auth, as on the test machines). It will not run as root: as root, it runs as ``nobody``."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    config = folder / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={database_host} port={database_port} user=postgres\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = any\n"
        "pool_mode = transaction\n"
        "default_pool_size = 10\n"
        "max_client_conn = 1000\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    config.chmod(0o644)
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    log = (folder / "pgbouncer.log").open("a")
    process = subprocess.Popen(
        ["pgbouncer", *as_user, str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    wait_until(lambda: accepts_connections(port), 10, "PgBouncer listens")
    return process

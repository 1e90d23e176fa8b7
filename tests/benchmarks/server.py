"""Server benchmarks (``make bench``): the shipped gunicorn configuration over TLS, on PostgreSQL
and Redis, loaded with wrk; every figure beside a baseline measured in the same run.

    python -m tests.benchmarks.server [--seconds 10] [--output var/bench/<commit>.json]
    python -m tests.benchmarks.server compare A.json B.json

Services: DATABASE_URL / REDIS_URL when set, else the local PostgreSQL and Redis the suite uses
(127.0.0.1). The benchmark creates its own database (``issuer_portal_bench``) and Redis db 15.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography.fernet import Fernet

from tests.processes import gunicorn_command

BASE_DIR = Path(__file__).resolve().parents[2]
CARDS = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(state: Path, port: int) -> dict[str, str]:
    database = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuer_portal")
    database = database.rsplit("/", 1)[0] + "/issuer_portal_bench"
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/15"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CI"))},
        "DJANGO_SETTINGS_MODULE": "tests.benchmarks.bench_settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "FIELD_HMAC_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        "PUBLIC_BASE_URL": f"https://127.0.0.1:{port}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LOCAL_STATE_DIR": str(state),
        "VIPPS_SANDBOX": "1",
        "TOKEN_SERVICE_ADAPTER": "simulator",
        "STAND_INS_ALLOWED": "1",
        "ADMIN_REQUIRE_OTP": "0",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
    }


_SEED = """
import django; django.setup()
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from tests.factories import CardFactory, CardholderFactory, UserFactory
holder = CardholderFactory(user=UserFactory(username="bench"))
for _ in range(%d):
    CardFactory(cardholder=holder)
session = SessionStore()
session[SESSION_KEY] = str(holder.user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = holder.user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def _prepare_database(env: dict[str, str]) -> str:
    import psycopg

    url = env["DATABASE_URL"]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        # A fresh database each run: the keys are new each run too.
        connection.execute("DROP DATABASE IF EXISTS issuer_portal_bench WITH (FORCE)")
        connection.execute("CREATE DATABASE issuer_portal_bench")
    run = {"env": env, "cwd": BASE_DIR, "check": True, "capture_output": True, "text": True}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], **run)
    subprocess.run([sys.executable, "manage.py", "compile_translations"], **run)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], **run)
    seeded = subprocess.run([sys.executable, "-c", _SEED % CARDS], **run)
    return seeded.stdout.strip().splitlines()[-1]


def _row_writes(env: dict[str, str]) -> int:
    """Rows inserted, updated and deleted in the benchmark database so far (PostgreSQL's
    statistics, flushed within a second of each transaction)."""
    import psycopg

    time.sleep(1.5)
    with psycopg.connect(env["DATABASE_URL"]) as connection:
        return connection.execute(
            "SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database"
            " WHERE datname = current_database()"
        ).fetchone()[0]


def _wrk(url: str, cookie: str, seconds: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Cookie: sessionid={cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rps,
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run(seconds: int, output: Path | None) -> dict:
    from issuer_portal.core.pki import issue, make_ca

    if not shutil.which("wrk"):
        sys.exit("bench: needs wrk (apt-get install wrk)")
    state = Path(tempfile.mkdtemp(prefix="bench-"))
    port = _free_port()
    env = _environment(state, port)
    ca = make_ca("Bench CA")
    cert_path, key_path = issue(ca, "127.0.0.1", server=True).write(state, "server")
    ca_cert = ca.write(state, "ca")[0]
    cookie = _prepare_database(env)
    server = subprocess.Popen(
        gunicorn_command(
            port,
            "--certfile",
            str(cert_path),
            "--keyfile",
            str(key_path),
            "tests.benchmarks.bench_wsgi:application",
        ),
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(state / "server.log").open("w"),
    )
    try:
        base = f"https://127.0.0.1:{port}"
        _wait_for(base, ca_cert)
        pages = {"bare page (baseline)": "/bench/bare/", "card list, warm": "/cards/"}
        for path in pages.values():  # warm: caches, the day's offers, the session's refresh
            _wrk(base + path, cookie, 2, 2)
        results = {}
        for name, path in pages.items():
            before = _row_writes(env)
            results[name] = _wrk(base + path, cookie, seconds, 8)
            requests = results[name]["rps"] * seconds
            results[name]["db_writes_per_request"] = round(
                (_row_writes(env) - before) / requests, 3
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    bare, warm = results["bare page (baseline)"], results["card list, warm"]
    report = {
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BASE_DIR
        ).stdout.strip(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
        "server": "gunicorn.conf.py, 2 workers x 4 threads, TLS; PostgreSQL; Redis; c=8",
        "results": results,
        "goals": {
            "warm card list rps / bare rps >= 0.75": round(warm["rps"] / bare["rps"], 2),
            "warm card list p99 / bare p99 <= 2.0": round(warm["p99_ms"] / bare["p99_ms"], 2),
        },
    }
    _print(report)
    if any(figures["non_2xx"] for figures in results.values()):
        errors = [
            json.loads(line).get("exception", "")
            for line in (state / "server.log").read_text().splitlines()
            if '"exception"' in line
        ]
        print(f"bench: {len(errors)} errors in the server's log; the last one ends with:")
        print("\n".join(errors[-1].splitlines()[-6:]) if errors else "(none logged)")
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=1))
        print(f"written to {output}")
    shutil.rmtree(state, ignore_errors=True)
    return report


def _wait_for(base: str, ca_cert: Path) -> None:
    import ssl

    context = ssl.create_default_context(cafile=str(ca_cert))
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2, context=context)  # noqa: S310 - https
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("bench: gunicorn did not start")
            time.sleep(0.3)


def _print(report: dict) -> None:
    print(f"\nServer benchmark {report['commit']} {report['date']} ({report['machine']})")
    print(report["server"])
    print(f"{'page':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'writes/req':>10}")
    for name, figures in report["results"].items():
        print(
            f"{name:28} {figures['rps']:9.1f} {figures['p50_ms']:8.1f} {figures['p99_ms']:8.1f}"
            f" {figures['non_2xx']:8d} {figures['db_writes_per_request']:10.3f}"
        )
    for goal, ratio in report["goals"].items():
        print(f"  {goal}: {ratio}")


def compare(first: Path, second: Path) -> None:
    a, b = json.loads(first.read_text()), json.loads(second.read_text())
    print(f"{'page':28} {a['commit']:>14} {b['commit']:>14}")
    for name in a["results"]:
        for figure in ("rps", "p99_ms"):
            print(
                f"{name + ' ' + figure:28} {a['results'][name][figure]:14.1f}"
                f" {b['results'][name][figure]:14.1f}"
            )
    for goal in a["goals"]:
        print(f"{goal:28} {a['goals'][goal]:14} {b['goals'][goal]:14}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", nargs="?", default="run", choices=["run", "compare"])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.command == "compare":
        compare(*args.files)
    else:
        run(args.seconds, args.output)


if __name__ == "__main__":
    main()

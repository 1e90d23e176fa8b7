"""Item 3: card data stays out of every log, also in workers, the access log and admin search."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import celery_worker_command, free_port, gunicorn_command

BASE_DIR = Path(__file__).resolve().parents[2]
PAN = "4111111111111111"


def _child_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_DEV_SECRETS": "1",
        "LOCAL_STATE_DIR": str(Path(settings.LOCAL_STATE_DIR).resolve()),
        "VIPPS_SANDBOX_DIR": str(Path(settings.VIPPS_SANDBOX_DIR).resolve()),
        "LOG_FORMAT": "json",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **extra,
    }


@pytest.mark.redis
def test_a_real_worker_logs_json_through_the_masking_filter():
    queue = f"security-logs-{os.getpid()}-{time.monotonic_ns()}"
    worker = subprocess.Popen(
        celery_worker_command(queue, loglevel="INFO"),
        cwd=BASE_DIR,
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    from issuer_portal.celery import app

    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        # A message naming no task: Celery logs its whole body, the card number included.
        app.send_task("no.such.task", args=[PAN], queue=queue)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not any("unregistered" in s for s in seen):
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        reader.join(timeout=10)
    output = "".join(seen)
    lines = [line for line in output.splitlines() if line.strip()]
    assert any("unregistered task" in line for line in lines), output[-2000:]
    assert PAN not in output
    records = [json.loads(line) for line in lines if line.startswith("{")]
    unregistered = [r for r in records if "unregistered task" in r["message"]]
    assert unregistered, "Celery's own error went through our JSON formatter"
    assert "[PAN]" in unregistered[0]["message"]
    assert {"time", "level", "logger", "message"} <= unregistered[0].keys()


def test_the_shipped_gunicorn_config_masks_card_numbers_in_the_access_log(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        gunicorn_command(port, "--workers", "1", "issuer_portal.wsgi:application"),
        cwd=BASE_DIR,
        env=_child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        for query in (
            PAN,
            "4111.1111.1111.1111",
            "4111%201111%201111%201111",
            "4111+1111+1111+1111",
        ):
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/accounts/login/?q={query}", timeout=5
                )
            except OSError:
                pass
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    access = [line for line in output.splitlines() if "gunicorn.access" in line]
    assert len(access) >= 5, output[-2000:]
    assert all(json.loads(line)["message"] for line in access)
    assert "/accounts/login/?q=[PAN]" in output
    for leaked in ("4111111111111111", "4111.1111", "4111%201111", "4111+1111"):
        assert leaked not in output


@pytest.mark.parametrize(
    "query",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111.1111.1111.1111",
        "4111_1111_1111_1111",
        "4111/1111/1111/1111",
        "4111,1111,1111,1111",
        "4111–1111–1111–1111",
        "150385 10190",
        "15.03.85.10190",
    ],
)
def test_admin_search_never_echoes_a_card_number_whatever_the_separator(admin_client, alice, query):
    response = admin_client.get("/admin/cards/card/", {"q": query}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain, "the search is refused with a redirect"
    assert query not in page
    assert "4111" not in page.replace("•••• 1111", "")

"""Real processes the suite starts: a Celery worker on its own queue."""

from __future__ import annotations

import sys


def celery_worker_command(queue: str, *, loglevel: str = "WARNING") -> list[str]:
    """A solo worker that consumes only ``queue`` (tests never share a worker)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "issuer_portal",
        "worker",
        "--pool=solo",
        "--concurrency=1",
        "-Q",
        queue,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        f"--loglevel={loglevel}",
    ]

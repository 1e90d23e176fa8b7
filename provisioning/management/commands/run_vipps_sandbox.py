from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from provisioning.sandbox.server import start_sandbox


class Command(BaseCommand):
    help = "Run the built-in Vipps sandbox (mutual-TLS provisioning API) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None, help="default: VIPPS_SANDBOX_PORT")
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            help="queue a fault for the next request: 503, 500, 400, 401, slow:SECONDS, "
            "malformed, html, empty, badhost (repeatable)",
        )

        parser.add_argument(
            "--latency",
            type=float,
            default=0.0,
            help="seconds from each request to its answer, like a slow Vipps (0 to 30)",
        )

    def handle(
        self, *args: Any, port: int | None, fault: list[str], latency: float, **options: Any
    ) -> None:
        if not settings.VIPPS_SANDBOX:
            raise CommandError("VIPPS_PROVISIONING_URL is set: the app talks to the real Vipps.")
        if not 0 <= latency <= 30:
            raise CommandError("--latency must be between 0 and 30 seconds")
        sandbox = start_sandbox(port, latency=latency)
        sandbox.faults.extend(fault)
        self.stdout.write(
            f"Vipps sandbox listening on {sandbox.url} (mutual TLS)"
            + (f", answering after {latency:g} s" if latency else "")
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            sandbox.stop()

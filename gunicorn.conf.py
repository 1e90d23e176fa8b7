"""The portal's gunicorn settings (used by the Dockerfile, docker-compose and the README).

The access log is on and goes through the same PAN/NIN masking filter and formatter as the
application's logs: request lines carry query strings, and a cardholder or a scanner may put a
card number there. GUNICORN_CMD_ARGS and command-line options still override anything here.
"""

import os
from typing import Any

from issuer_portal.core.observability import log_output_config

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# The server model: one process per core, many threads per process (gthread).
#
# A press of "Add" spends almost all of its time waiting for Vipps (up to
# VIPPS_INTERACTIVE_READ_TIMEOUT, 3 s): a thread that waits on a socket gives up the GIL, so a
# waiting press costs a thread, not a core. With 4 threads a process, 40 people pressing at once
# queued behind each other (p99 2.5 s while Vipps answered in 300 ms) and the card list waited
# behind them. 64 threads a process hold a campaign crowd's presses side by side even when the
# kernel hands most of them to one process, and leave threads for the card list; processes
# beyond the cores add memory, not throughput. The outbound mTLS pool keeps one connection per
# thread (OUTBOUND_POOL_SIZE). Database connections do not follow the threads: each process has a
# pool of DATABASE_POOL_SIZE (16), and a press hands its connection back while it waits on Vipps.
# Async workers were the alternative; they would need an async Vipps client, an async ORM path
# and async-safe middleware for a gain these figures do not ask for (make bench).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# Slow clients: a thread serves a connection from its first byte until its request is complete,
# so the portal runs behind an event-driven front that passes on only complete requests (the
# shipped one: deploy/haproxy/haproxy.cfg; tests/faults prove both the need and the cure).
# Longer than the longest request (a click waits VIPPS_INTERACTIVE_READ_TIMEOUT for Vipps).
timeout = 30
graceful_timeout = 30
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No control socket: nothing uses it, and its default path (~/.gunicorn/) is shared by every
# gunicorn of the user on the host and cannot be written on a read-only root filesystem.
control_socket_disable = True


def post_worker_init(worker: Any) -> None:
    """Each worker loads its URLconf, catalogues and templates before its first request, then
    freezes what it holds so that garbage collections skip it (issuer_portal.core.worker_start)."""
    from issuer_portal.core.worker_start import ready_worker

    try:
        ready_worker()
    except Exception:  # an optimisation: the worker serves without it
        worker.log.exception("readying the worker failed; it serves its requests all the same")


accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

_format = os.environ.get(
    "LOG_FORMAT", "plain" if os.environ.get("DJANGO_DEBUG", "").lower() in ("1", "true") else "json"
)
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    **log_output_config(_format),
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

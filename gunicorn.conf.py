"""The portal's gunicorn settings (used by the Dockerfile, docker-compose and the README).

The access log is on and goes through the same PAN/NIN masking filter and formatter as the
application's logs: request lines carry query strings, and a cardholder or a scanner may put a
card number there. GUNICORN_CMD_ARGS and command-line options still override anything here.
"""

import os

from issuer_portal.core.observability import log_output_config

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Longer than the longest request (a click waits VIPPS_INTERACTIVE_READ_TIMEOUT for Vipps).
timeout = 30
graceful_timeout = 30
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
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

"""The one settings module of the issuer portal.

Everything that differs between the demo, the test suite and a bank's production deployment comes
from environment variables (django-environ). The embedded defaults run the demo with nothing
installed: SQLite, a local-memory cache and eager Celery tasks. README.md lists every variable.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from issuer_portal.core.observability import log_output_config
from issuer_portal.core.theme import style_hash, theme_style
from issuer_portal.core.url_policy import outbound_url_problem

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEBUG: bool = env.bool("DJANGO_DEBUG", default=False)

# Local state that must never be committed: the SQLite demo database, generated dev secrets,
# and (later) the sandbox's certificates and keys.
LOCAL_STATE_DIR = Path(env.str("LOCAL_STATE_DIR", default=str(BASE_DIR / "var")))

# With DJANGO_DEV_SECRETS on (the default when DEBUG is on), missing secrets are generated once into
# LOCAL_STATE_DIR/dev-secrets.json instead of being hard-coded. Production never turns this on, so
# a missing secret there is a startup error.
DEV_SECRETS: bool = env.bool("DJANGO_DEV_SECRETS", default=DEBUG)


def _dev_secrets() -> dict[str, str]:
    """Read (creating on first use) the generated secrets of a local, non-production run."""
    path = LOCAL_STATE_DIR / "dev-secrets.json"
    if not path.exists():
        LOCAL_STATE_DIR.mkdir(parents=True, exist_ok=True)
        generated = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "FIELD_HMAC_KEY": secrets.token_urlsafe(32),
        }
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(generated))
        tmp.chmod(0o600)
        # Several processes (test workers) may race here; a hard link keeps whichever came first.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())


def _required_secret(name: str, purpose: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEV_SECRETS:
        return _dev_secrets()[name]
    raise ImproperlyConfigured(
        f"{name} is not set. It is required when DJANGO_DEBUG is off ({purpose}). "
        "See the configuration table in README.md."
    )


SECRET_KEY = _required_secret("DJANGO_SECRET_KEY", "it signs sessions and links")


def _field_encryption_keys() -> list[str]:
    raw = _required_secret(
        "FIELD_ENCRYPTION_KEYS", "it encrypts card numbers and national identity numbers"
    )
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            # Never echo the key itself.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key #{position} is not a valid key "
                "(32 url-safe base64-encoded bytes, as made by Fernet.generate_key())."
            ) from None
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    return keys


# First key encrypts, every key decrypts: add the new key in front to rotate, run
# `manage.py reencrypt_fields`, then drop the old key.
FIELD_ENCRYPTION_KEYS: list[str] = _field_encryption_keys()
# Keyed hash for lookups and duplicate detection of PANs and NINs (never a plain hash).
FIELD_HMAC_KEY: str = _required_secret(
    "FIELD_HMAC_KEY", "it keys the lookup hashes of card numbers and identity numbers"
)

PUBLIC_BASE_URL: str = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be an absolute http(s) URL.")

# Always answer on loopback too: the container health check calls http://localhost/healthz.
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=[_public.hostname])
for _loopback in ("localhost", "127.0.0.1"):
    if _loopback not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_loopback)
CSRF_TRUSTED_ORIGINS = [f"{_public.scheme}://{_public.netloc}"]

ISSUER_NAME: str = env.str("ISSUER_NAME", default="Demo Bank ASA")
# The bank's colour (links, focus rings, its own buttons) and how cardholders reach it when
# something needs a person (shown on failure pages), e.g. "+47 915 00000" or a support address.
ISSUER_COLOUR: str = env.str("ISSUER_COLOUR", default="#1f4fd1").lower()
ISSUER_CONTACT: str = env.str("ISSUER_CONTACT", default="")

INSTALLED_APPS = [
    "issuer_portal.admin_config.IssuerAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "issuer_portal",
    "issuer_portal.core",
    "issuer_portal.cards",
    "tokens",
    "provisioning",
    "issuer_portal.accounts",
    "issuer_portal.api",
]

MIDDLEWARE = [
    "issuer_portal.core.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "issuer_portal.core.security_headers.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "issuer_portal.core.idle_timeout.IdleTimeoutMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "issuer_portal.core.audit.AuditContextMiddleware",
    "issuer_portal.web.errors.DomainErrorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "issuer_portal.urls"
WSGI_APPLICATION = "issuer_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "issuer_portal.web.context_processors.portal",
            ],
        },
    },
]

# Database: SQLite under LOCAL_STATE_DIR unless DATABASE_URL says otherwise
# (postgres://user:pass@host:5432/name or sqlite:////absolute/path.sqlite3).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{LOCAL_STATE_DIR / 'portal.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    # A pool of connections per process (psycopg's), sized apart from the server's threads: a
    # thread that waits on Vipps hands its connection back first (provisioning.upstream_call),
    # so 64 threads share DATABASE_POOL_SIZE connections. 0: a persistent connection per thread.
    DATABASE_POOL_SIZE: int = env.int("DATABASE_POOL_SIZE", default=16)
    if DATABASE_POOL_SIZE > 0 and "postgresql" in DATABASES["default"]["ENGINE"]:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    else:
        DATABASES["default"].setdefault(
            "CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60)
        )
    # Persistent connections are checked before use: with the pool, as each leaves it (one
    # empty round trip), so after a failover or pg_terminate_backend dead connections are
    # dropped there instead of failing the requests that would have drawn them.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction mode a cursor cannot outlive its transaction: on, querysets'
    # iterator() reads client-side (the long iterations use keyset pages, core.db.in_pk_chunks).
    # Django's default client-side parameter binding prepares no statements, which PgBouncer
    # in transaction mode would not keep either.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: one URL switches both the cache and Celery's broker.
REDIS_URL: str = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "issuer_portal.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="issuer-portal"),
            "TIMEOUT": 300,
            # A hung or unreachable Redis costs a request this long at most: the backend then
            # treats reads as misses and skips writes (issuer_portal.core.cache).
            "OPTIONS": {
                "socket_connect_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
                "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.5),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery's broker: the same Redis by default; RabbitMQ (amqp://user:password@host:5672/vhost) is
# what Celery recommends for production: a message stays with the broker until a worker acks it,
# with no visibility timeout to outlive. The cache stays on Redis either way.
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
# The queue every task goes to and every worker takes from: a RabbitMQ or Redis shared with
# other systems (or another portal) keeps this one's tasks apart by its name.
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER: bool = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
# Off: with it on, an eager task's retry() raises instead of retrying as a worker would.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis (as the broker) redelivers unacknowledged tasks after this long; it must exceed every
# countdown and task time limit, and Celery reads it from both places. RabbitMQ ignores it: there
# an unacknowledged task goes back to the queue when its worker's connection closes, and the
# server's consumer_timeout (30 minutes by default) must exceed every countdown instead.
CELERY_VISIBILITY_TIMEOUT: int = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens while a user waits (on commit of their click): fail fast when the broker is
# down; the provisioning sweeper re-queues what could not be published.
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

# Token services (Visa VTS, Mastercard MDES) behind adapters: "simulator", "mdes", "vts" or a
# dotted path; the per-network settings override the default for that network's cards.
# No default outside debug: a forgotten setting must not silently switch on the simulator.
TOKEN_SERVICE_ADAPTER: str = env.str("TOKEN_SERVICE_ADAPTER", default="simulator" if DEBUG else "")
if not TOKEN_SERVICE_ADAPTER:
    raise ImproperlyConfigured(
        "TOKEN_SERVICE_ADAPTER is not set. It is required when DJANGO_DEBUG is off: "
        "mdes, vts, a dotted path, or simulator for a staging system. See README.md."
    )
TOKEN_SERVICE_ADAPTERS_BY_NETWORK: dict[str, str] = {
    network: value
    for network, value in (
        ("visa", env.str("TOKEN_SERVICE_ADAPTER_VISA", default="")),
        ("mastercard", env.str("TOKEN_SERVICE_ADAPTER_MASTERCARD", default="")),
    )
    if value
}
MDES_BASE_URL: str = env.str("MDES_BASE_URL", default="")
MDES_CA_BUNDLE: str = env.str("MDES_CA_BUNDLE", default="")
MDES_CLIENT_CERT: str = env.str("MDES_CLIENT_CERT", default="")
MDES_CLIENT_KEY: str = env.str("MDES_CLIENT_KEY", default="")
VTS_BASE_URL: str = env.str("VTS_BASE_URL", default="")
VTS_CA_BUNDLE: str = env.str("VTS_CA_BUNDLE", default="")
VTS_CLIENT_CERT: str = env.str("VTS_CLIENT_CERT", default="")
VTS_CLIENT_KEY: str = env.str("VTS_CLIENT_KEY", default="")
TOKEN_SERVICE_CONNECT_TIMEOUT: float = env.float("TOKEN_SERVICE_CONNECT_TIMEOUT", default=1.0)
TOKEN_SERVICE_READ_TIMEOUT: float = env.float("TOKEN_SERVICE_READ_TIMEOUT", default=2.0)
# A page waits at most this long for all of its cards' lookups; late ones show "unknown".
TOKEN_LOOKUP_TIMEOUT: float = env.float("TOKEN_LOOKUP_TIMEOUT", default=2.5)
TOKEN_STATUS_CACHE_SECONDS: int = env.int("TOKEN_STATUS_CACHE_SECONDS", default=60)
# Token-service lookups in flight at once per server process, shared by every page it serves:
# a card list of 50 cards asks for all of them side by side.
TOKEN_LOOKUP_CONCURRENCY: int = env.int("TOKEN_LOOKUP_CONCURRENCY", default=64)
# Circuit breaker per token service and process: after this many timeouts or transient failures
# in a row the service is left alone for TOKEN_SERVICE_BREAKER_SECONDS (cards show "unknown").
TOKEN_SERVICE_BREAKER_FAILURES: int = env.int("TOKEN_SERVICE_BREAKER_FAILURES", default=5)
TOKEN_SERVICE_BREAKER_SECONDS: float = env.float("TOKEN_SERVICE_BREAKER_SECONDS", default=30.0)
TOKEN_SIMULATOR_LATENCY_MS: int = env.int("TOKEN_SIMULATOR_LATENCY_MS", default=0)
TOKEN_SIMULATOR_FAILURE: str = env.str("TOKEN_SIMULATOR_FAILURE", default="")
if TOKEN_SIMULATOR_FAILURE not in ("", "transient", "permanent"):
    raise ImproperlyConfigured("TOKEN_SIMULATOR_FAILURE must be empty, transient or permanent.")
TOKEN_NOTIFICATION_SECRET: str = env.str("TOKEN_NOTIFICATION_SECRET", default="")
TOKEN_NOTIFICATION_TOLERANCE_SECONDS: int = env.int(
    "TOKEN_NOTIFICATION_TOLERANCE_SECONDS", default=300
)
# Changes to tokens (pause, resume, remove) the token service could not make at once: retried
# with backoff from this base, up to this many calls, then shown as failed.
TOKEN_CHANGE_RETRY_BASE_SECONDS: float = env.float("TOKEN_CHANGE_RETRY_BASE_SECONDS", default=2.0)
TOKEN_CHANGE_MAX_TRIES: int = env.int("TOKEN_CHANGE_MAX_TRIES", default=10)
# The card management system's credential for POST /api/v1/card-events/ (its own key, never a
# person's password); unset turns the endpoint off (503).
CARD_EVENTS_API_KEY: str = env.str("CARD_EVENTS_API_KEY", default="")
# Step-up: pausing or removing a device needs a sign-in (or a password confirmation) at most
# this old; older sessions are asked for the password again.
STEP_UP_MAX_AGE_SECONDS: int = env.int("STEP_UP_MAX_AGE_SECONDS", default=300)
TOKEN_REFRESH_BATCH_SIZE: int = env.int("TOKEN_REFRESH_BATCH_SIZE", default=20)
TOKEN_REFRESH_PER_SECOND: float = env.float("TOKEN_REFRESH_PER_SECOND", default=10.0)
TOKEN_REFRESH_INTERVAL_MINUTES: int = env.int("TOKEN_REFRESH_INTERVAL_MINUTES", default=0)
# The sweeper finishes attempts stuck past their age and revives lost ones (a worker killed
# mid-call, a task never published because the broker was down): how often beat runs it.
PROVISIONING_SWEEP_SECONDS: float = env.float("PROVISIONING_SWEEP_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "sweep-provisioning-attempts": {
        "task": "provisioning.tasks.sweep_provisioning_attempts",
        "schedule": PROVISIONING_SWEEP_SECONDS,
    },
    "sweep-token-changes": {
        "task": "tokens.tasks.sweep_token_changes",
        "schedule": PROVISIONING_SWEEP_SECONDS,
    },
    "reconcile-card-tokens": {
        "task": "tokens.tasks.reconcile_card_tokens",
        "schedule": 24 * 3600.0,
    },
    "purge-idempotency-keys": {"task": "api.tasks.purge_idempotency_keys", "schedule": 3600.0},
}
if TOKEN_REFRESH_INTERVAL_MINUTES > 0:
    CELERY_BEAT_SCHEDULE["refresh-token-statuses"] = {
        "task": "tokens.tasks.refresh_all_token_statuses",
        "schedule": TOKEN_REFRESH_INTERVAL_MINUTES * 60.0,
    }

# Vipps MobilePay push provisioning. The built-in sandbox stands in for Vipps only when asked:
# VIPPS_SANDBOX defaults to on with DJANGO_DEBUG (the demo) and off otherwise; its endpoint,
# certificates, JWE key and pages are generated under VIPPS_SANDBOX_DIR.
VIPPS_PROVISIONING_URL: str = env.str("VIPPS_PROVISIONING_URL", default="")
VIPPS_SANDBOX: bool = env.bool("VIPPS_SANDBOX", default=DEBUG and not VIPPS_PROVISIONING_URL)
VIPPS_SANDBOX_PORT: int = env.int("VIPPS_SANDBOX_PORT", default=8443)
VIPPS_SANDBOX_DIR = Path(
    env.str("VIPPS_SANDBOX_DIR", default=str(LOCAL_STATE_DIR / "vipps-sandbox"))
)
VIPPS_CLIENT_CERT: str = env.str("VIPPS_CLIENT_CERT", default="")
VIPPS_CLIENT_KEY: str = env.str("VIPPS_CLIENT_KEY", default="")
VIPPS_CA_BUNDLE: str = env.str("VIPPS_CA_BUNDLE", default="")
VIPPS_CONNECT_TIMEOUT: float = env.float("VIPPS_CONNECT_TIMEOUT", default=2.0)
VIPPS_READ_TIMEOUT: float = env.float("VIPPS_READ_TIMEOUT", default=8.0)
# The click waits at most this long for Vipps before the pending page and retries take over.
VIPPS_INTERACTIVE_READ_TIMEOUT: float = env.float("VIPPS_INTERACTIVE_READ_TIMEOUT", default=3.0)
# Calls to Vipps per second, across every process (0: no limit). Background retries wait for a
# free second; a cardholder's press is never held back, but counts, so retries yield to presses.
VIPPS_RATE_LIMIT_PER_SECOND: int = env.int("VIPPS_RATE_LIMIT_PER_SECOND", default=20)
if VIPPS_RATE_LIMIT_PER_SECOND < 0:
    raise ImproperlyConfigured("VIPPS_RATE_LIMIT_PER_SECOND must be 0 (no limit) or more.")
# Keep-alive mutual-TLS connections kept per upstream host and process: one per server thread
# (gunicorn.conf.py), so a crowd pressing "Add" reuses connections instead of handshaking each.
OUTBOUND_POOL_SIZE: int = env.int("OUTBOUND_POOL_SIZE", default=64)
VIPPS_JWE_ENC: str = env.str("VIPPS_JWE_ENC", default="A128GCM")
if VIPPS_JWE_ENC not in ("A128GCM", "A256GCM"):
    raise ImproperlyConfigured("VIPPS_JWE_ENC must be A128GCM or A256GCM.")
VIPPS_JWE_PUBLIC_KEY: str = env.str("VIPPS_JWE_PUBLIC_KEY", default="")
VIPPS_JWE_KID: str = env.str("VIPPS_JWE_KID", default="")
# The bank manages Vipps' JWE keys in admin instead of (or besides) VIPPS_JWE_PUBLIC_KEY.
VIPPS_JWE_KEYS_IN_ADMIN: bool = env.bool("VIPPS_JWE_KEYS_IN_ADMIN", default=False)
VIPPS_UNIVERSAL_LINK_HOSTS: list[str] = env.list(
    "VIPPS_UNIVERSAL_LINK_HOSTS", default=[] if VIPPS_SANDBOX else ["qr.vipps.no", "vipps.no"]
)
VIPPS_NFC_LINK_BASE: str = env.str(
    "VIPPS_NFC_LINK_BASE",
    default=f"{PUBLIC_BASE_URL}/sandbox/vipps/nfc/"
    if VIPPS_SANDBOX
    else "https://qr.vipps.no/ps/provisioning/push/nfc",
)
VIPPS_SYSTEM_NAME: str = env.str("VIPPS_SYSTEM_NAME", default="issuer-portal")
VIPPS_SYSTEM_VERSION: str = env.str("VIPPS_SYSTEM_VERSION", default="0.1.0")
if len(VIPPS_SYSTEM_NAME) > 30 or len(VIPPS_SYSTEM_VERSION) > 30:
    raise ImproperlyConfigured("VIPPS_SYSTEM_NAME and VIPPS_SYSTEM_VERSION: 30 characters at most.")
if not 1 <= len(ISSUER_NAME) <= 255:
    raise ImproperlyConfigured("ISSUER_NAME must have 1 to 255 characters.")
# Return URLs the bank's mobile app may ask Vipps to send the user back to (its universal links).
APP_RETURN_URLS: list[str] = env.list("APP_RETURN_URLS", default=[])


def _vipps_client_problems() -> list[str]:
    """What the real Vipps client lacks (sandbox off): each named, none silently defaulted."""
    problems = []
    if not VIPPS_PROVISIONING_URL:
        problems.append("VIPPS_PROVISIONING_URL is not set")
    for name, path in (
        ("VIPPS_CLIENT_CERT", VIPPS_CLIENT_CERT),
        ("VIPPS_CLIENT_KEY", VIPPS_CLIENT_KEY),
    ):
        if not path:
            problems.append(f"{name} is not set")
        elif not Path(path).is_file():
            problems.append(f"{name} names no readable file")
    if VIPPS_CA_BUNDLE and not Path(VIPPS_CA_BUNDLE).is_file():
        problems.append("VIPPS_CA_BUNDLE names no readable file")
    if VIPPS_JWE_PUBLIC_KEY:
        if not Path(VIPPS_JWE_PUBLIC_KEY).is_file():
            problems.append("VIPPS_JWE_PUBLIC_KEY names no readable file")
        if not VIPPS_JWE_KID:
            problems.append("VIPPS_JWE_KID is not set (the kid of VIPPS_JWE_PUBLIC_KEY)")
    elif not VIPPS_JWE_KEYS_IN_ADMIN:
        problems.append(
            "no JWE key source: set VIPPS_JWE_PUBLIC_KEY and VIPPS_JWE_KID, "
            "or VIPPS_JWE_KEYS_IN_ADMIN=true to manage Vipps' keys in admin"
        )
    return problems


if VIPPS_SANDBOX and VIPPS_PROVISIONING_URL:
    raise ImproperlyConfigured("VIPPS_SANDBOX is on and VIPPS_PROVISIONING_URL is set: choose one.")
if not VIPPS_SANDBOX and (_problems := _vipps_client_problems()):
    raise ImproperlyConfigured(
        "The Vipps client is not configured (VIPPS_SANDBOX is off): "
        + "; ".join(_problems)
        + '. See "Deploying to production" in README.md.'
    )
PROVISIONING_MAX_AGE_SECONDS: int = env.int("PROVISIONING_MAX_AGE_SECONDS", default=600)
# An attempt pending with no claim whose queued try is this late (or, never tried, this old) is
# lost: its task was never published or never ran. The sweeper queues it again.
PROVISIONING_LOST_AFTER_SECONDS: int = env.int("PROVISIONING_LOST_AFTER_SECONDS", default=30)
# A worker's claim on an attempt lasts the longest Vipps call (connect + read timeout) plus this
# margin: a claim still held after that belongs to a worker that died mid-call, and the sweeper
# hands the attempt to another at once. Short, so recovery takes seconds.
PROVISIONING_CLAIM_MARGIN_SECONDS: float = env.float(
    "PROVISIONING_CLAIM_MARGIN_SECONDS", default=5.0
)
PROVISIONING_MAX_TRIES: int = env.int("PROVISIONING_MAX_TRIES", default=6)
PROVISIONING_RETRY_BASE_SECONDS: float = env.float("PROVISIONING_RETRY_BASE_SECONDS", default=2.0)
PROVISIONING_RATE_LIMIT: int = env.int("PROVISIONING_RATE_LIMIT", default=5)
PROVISIONING_RATE_WINDOW_SECONDS: int = env.int("PROVISIONING_RATE_WINDOW_SECONDS", default=600)

# Admin second factor: staff with a TOTP device always give its code; on (the default outside
# debug), everyone must.
ADMIN_REQUIRE_OTP: bool = env.bool("ADMIN_REQUIRE_OTP", default=not DEBUG)
OTP_TOTP_ISSUER = ISSUER_NAME

# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>" (404 otherwise, or when unset).
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")

# /readyz: component -> dotted path of a check returning ok, failing, not_configured or simulated.
READINESS_CHECKS = {
    "database": "issuer_portal.health.check_database",
    "cache": "issuer_portal.health.check_cache",
    "broker": "issuer_portal.health.check_broker",
    "vipps_client": "provisioning.health.check_vipps_client",
    "stand_ins": "issuer_portal.health.check_stand_ins",
}
READINESS_CACHE_SECONDS: float = env.float("READINESS_CACHE_SECONDS", default=5.0)
# A staging system that runs the Vipps sandbox or the token simulator on purpose: readiness
# reports them as "simulated" instead of failing (as it does in production).
STAND_INS_ALLOWED: bool = env.bool("STAND_INS_ALLOWED", default=DEBUG)

# REST API for the bank's mobile app. Bearer JWTs from the bank's identity provider, API tokens
# (hashed, expiring: knox) and the portal's session (with CSRF).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "issuer_portal.api.authentication.OidcJwtAuthentication",
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "issuer_portal.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Issuer portal API",
    "DESCRIPTION": "Cards and push provisioning into Vipps / MobilePay for the bank's mobile app.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # One named enum for the token changes wherever they appear.
    "ENUM_NAME_OVERRIDES": {"TokenActionEnum": ["suspend", "resume", "delete"]},
}
OIDC_ISSUER: str = env.str("OIDC_ISSUER", default="")
OIDC_AUDIENCE: str = env.str("OIDC_AUDIENCE", default="")
OIDC_JWKS_FILE: str = env.str("OIDC_JWKS_FILE", default="")
OIDC_JWKS_URL: str = env.str("OIDC_JWKS_URL", default="")
OIDC_CA_BUNDLE: str = env.str("OIDC_CA_BUNDLE", default="")
OIDC_USERNAME_CLAIM: str = env.str("OIDC_USERNAME_CLAIM", default="sub")
OIDC_LEEWAY_SECONDS: int = env.int("OIDC_LEEWAY_SECONDS", default=30)
OIDC_JWKS_CACHE_SECONDS: int = env.int("OIDC_JWKS_CACHE_SECONDS", default=300)
# Cardholders sign in through the bank's identity provider (OpenID Connect, code flow with PKCE)
# when OIDC_CLIENT_ID is set; the redirect URI to register is <PUBLIC_BASE_URL>/oidc/callback/.
# OIDC_ISSUER is shared with the API's bearer tokens.
OIDC_CLIENT_ID: str = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET: str = env.str("OIDC_CLIENT_SECRET", default="")
# client_secret_basic, client_secret_post or private_key_jwt (OIDC_CLIENT_PRIVATE_KEY_FILE: a PEM).
OIDC_CLIENT_AUTH_METHOD: str = env.str("OIDC_CLIENT_AUTH_METHOD", default="client_secret_basic")
OIDC_CLIENT_PRIVATE_KEY_FILE: str = env.str("OIDC_CLIENT_PRIVATE_KEY_FILE", default="")
OIDC_SCOPES: str = env.str("OIDC_SCOPES", default="openid")
# A claim carrying the national identity number, matched through the keyed hash; never kept.
OIDC_NIN_CLAIM: str = env.str("OIDC_NIN_CLAIM", default="")
OIDC_STEP_UP_ACR: str = env.str("OIDC_STEP_UP_ACR", default="")
OIDC_TIMEOUT_SECONDS: float = env.float("OIDC_TIMEOUT_SECONDS", default=5.0)
# Bank staff sign in to admin through the workforce directory when STAFF_OIDC_CLIENT_ID is set;
# the redirect URI to register is <PUBLIC_BASE_URL>/admin/oidc/callback/.
STAFF_OIDC_ISSUER: str = env.str("STAFF_OIDC_ISSUER", default="")
STAFF_OIDC_CLIENT_ID: str = env.str("STAFF_OIDC_CLIENT_ID", default="")
STAFF_OIDC_CLIENT_SECRET: str = env.str("STAFF_OIDC_CLIENT_SECRET", default="")
STAFF_OIDC_SCOPES: str = env.str("STAFF_OIDC_SCOPES", default="openid profile email")
STAFF_OIDC_USERNAME_CLAIM: str = env.str("STAFF_OIDC_USERNAME_CLAIM", default="preferred_username")
STAFF_OIDC_GROUPS_CLAIM: str = env.str("STAFF_OIDC_GROUPS_CLAIM", default="groups")
# Directory group -> portal role (a Django group): "card-ops=Operations,card-support=Support".
STAFF_OIDC_GROUP_ROLES: dict[str, str] = env.dict("STAFF_OIDC_GROUP_ROLES", default={})
STAFF_OIDC_REQUIRED_ACR: list[str] = env.list("STAFF_OIDC_REQUIRED_ACR", default=[])
STAFF_OIDC_REQUIRED_AMR: list[str] = env.list("STAFF_OIDC_REQUIRED_AMR", default=[])
# With staff single sign-on on, the admin password form takes only these local accounts.
STAFF_BREAK_GLASS_USERNAMES: list[str] = env.list(
    "STAFF_BREAK_GLASS_USERNAMES", default=["break-glass"]
)
IDEMPOTENCY_KEY_HOURS: int = env.int("IDEMPOTENCY_KEY_HOURS", default=24)
# API tokens from /api/v1/auth/token/: only a hash is stored (django-rest-knox), and they expire.
API_TOKEN_HOURS: int = env.int("API_TOKEN_HOURS", default=12)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 20,
}

# Every outbound base URL (and the NFC link we send users to) is parsed, not prefix-matched.
for _name, _url in (
    ("VIPPS_PROVISIONING_URL", VIPPS_PROVISIONING_URL),
    ("VIPPS_NFC_LINK_BASE", VIPPS_NFC_LINK_BASE),
    ("MDES_BASE_URL", MDES_BASE_URL),
    ("VTS_BASE_URL", VTS_BASE_URL),
    ("OIDC_JWKS_URL", OIDC_JWKS_URL),
    ("OIDC_ISSUER", OIDC_ISSUER),
    ("STAFF_OIDC_ISSUER", STAFF_OIDC_ISSUER),
):
    if _url and (_problem := outbound_url_problem(_url)):
        raise ImproperlyConfigured(f"{_name} {_problem}.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "issuer_portal.accounts.lockout.UsernameFailureCeilingBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:card-list"
LOGOUT_REDIRECT_URL = "login"

# Reverse proxies in front of the app; issuer_portal.core.client_address reads the client's address.
TRUSTED_PROXY_COUNT: int = env.int("TRUSTED_PROXY_COUNT", default=0)
# Repeated failed sign-ins lock the username from that address for a while (admin included); the
# owner elsewhere still signs in. Across all addresses a username gets a higher ceiling.
LOGIN_LOCKOUT_MINUTES: int = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_USERNAME_FAILURE_LIMIT: int = env.int("LOGIN_USERNAME_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "issuer_portal.accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "issuer_portal.core.client_address.client_ip"
AXES_VERBOSE = False
AXES_ALLOWED_CORS_ORIGINS = f"{_public.scheme}://{_public.netloc}"

# Sessions end after 15 idle minutes: every request renews the expiry.
SESSION_COOKIE_AGE: int = env.int("SESSION_IDLE_SECONDS", default=15 * 60)
# The idle timeout moves forward at most once a minute (issuer_portal.core.idle_timeout), not
# with a session write on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS: int = env.int("SESSION_REFRESH_SECONDS", default=60)
if not 1 <= SESSION_REFRESH_SECONDS < SESSION_COOKIE_AGE:
    raise ImproperlyConfigured(
        "SESSION_REFRESH_SECONDS must be at least 1 and below SESSION_IDLE_SECONDS."
    )
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = LANGUAGE_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT: bool = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and container platforms probe plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS: int = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    # Only behind a proxy that sets this header itself; otherwise clients could spoof it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The issuer's colour goes into one inline style element, allowed by its hash (nothing else is).
THEME_STYLE = theme_style(ISSUER_COLOUR)
CONTENT_SECURITY_POLICY = (
    f"default-src 'self'; img-src 'self' data:; style-src 'self' '{style_hash(THEME_STYLE)}'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("nb", "Norsk bokmål"),
    ("sv", "Svenska"),
    ("da", "Dansk"),
    ("fi", "Suomi"),
]
LOCALE_PATHS = [BASE_DIR / "issuer_portal" / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Oslo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves collected, hashed and compressed files (collectstatic at image build);
# the demo and the tests serve straight from static/ without collecting.
STATIC_MANIFEST: bool = env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    **log_output_config(LOG_FORMAT),
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Axes logs every sign-in at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}

"""The one choke point for outbound HTTPS: token services and Vipps go through here.

urllib3 with an SSLContext we build ourselves: TLS 1.2 or newer, certificate verification always
on (against the pinned CA bundle when one is configured), an optional client certificate for
mutual TLS, connect and read timeouts, pooled keep-alive connections per process (per process by
design: a TLS connection cannot be handed between processes or replicas; each process keeps up
to OUTBOUND_POOL_SIZE per upstream host, and the Vipps rate limit is counted in Redis, across
every process). New connections resume the TLS session of an earlier one to the same host.
requests' habit of letting REQUESTS_CA_BUNDLE from the environment override ``verify`` cannot
happen here.

Low-level failures become one typed error, OutboundError, with ``permanent`` telling callers
whether a retry can help. Request bodies (which may carry a PAN) never appear in its messages.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import certifi
import urllib3
import urllib3.connection
import urllib3.response
from urllib3.exceptions import (
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)

from issuer_portal.core.url_policy import outbound_url_problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsClientConfig:
    """How to reach one upstream service."""

    ca_bundle: str | None = None  # PEM file to trust instead of the public CAs
    client_cert: str | None = None  # PEM certificate for mutual TLS
    client_key: str | None = None  # its PEM private key
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    pool_size: int = 10


class OutboundError(Exception):
    """An outbound call failed.

    ``permanent``: retrying the same request cannot help (4xx, bad TLS setup, bad response).
    ``configuration``: our side is misconfigured (401/403, TLS trust or client certificate), so
    bank staff must act. ``status`` is the HTTP status when there was a response.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        configuration: bool = False,
        body: bytes = b"",
        duration_ms: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.configuration = configuration
        self.body = body
        self.duration_ms = duration_ms


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    duration_ms: float

    def json(self) -> Any:
        """The body as JSON; raises OutboundError(permanent) for a body that is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise OutboundError(
                f"response body is not JSON (HTTP {self.status}, {len(self.body)} bytes)",
                permanent=True,
                status=self.status,
                duration_ms=self.duration_ms,
            ) from None


class _ResumingContext(ssl.SSLContext):
    """A client SSLContext that offers each new connection the TLS session of an earlier one to
    the same server (session resumption). A resumed handshake skips the certificates, their
    signatures and the chain checks on both sides, which counts when a crowd opens many
    connections at once after the pooled ones were closed for being idle (in-process, a call on
    a new connection: 8.3 ms resumed, 10.8 ms with a full handshake, 6.1 ms on a kept one). A
    process's first connections have nothing to resume. Only sessions of this context are
    offered: the same trust, the same client certificate, which the server authenticated when
    the session began."""

    def __init__(self, protocol: int) -> None:
        # SSLContext is made by __new__; there is no __init__ of its own to call.
        self.sessions_by_host: dict[str, ssl.SSLSession] = {}

    def remember_session(self, server_hostname: str, session: ssl.SSLSession | None) -> None:
        if session is not None:
            self.sessions_by_host[server_hostname] = session

    def wrap_socket(  # type: ignore[override]
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        if session is None and not server_side and server_hostname:
            session = self.sessions_by_host.get(server_hostname)
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )


# The work post_json's caller gave to do while the upstream answers, by thread.
_meanwhile = threading.local()


class _WorksWhileWaiting(urllib3.connection.HTTPConnection):
    """A connection that, once its request is sent, first does the calling thread's work for
    meanwhile (post_json's ``meanwhile``) and only then waits for the response."""

    def getresponse(self, *args: Any, **kwargs: Any) -> urllib3.response.BaseHTTPResponse:
        work = getattr(_meanwhile, "work", None)
        if work is not None:
            _meanwhile.work = None
            try:
                work()
            except Exception:
                # The request is out: its answer still counts, whatever the side work did.
                logger.exception("outbound: the work done while waiting failed")
        return super().getresponse(*args, **kwargs)


class _WaitingPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WorksWhileWaiting


class _ResumingConnection(_WorksWhileWaiting, urllib3.connection.HTTPSConnection):
    # The TLS connection whose session was taken: once per connection, because Python copies
    # the session (certificates included) on every read of it, 0.1-0.5 ms of CPU each.
    _session_taken_from: weakref.ref[ssl.SSLSocket] | None = None

    def getresponse(self, *args: Any, **kwargs: Any) -> urllib3.response.BaseHTTPResponse:
        response = super().getresponse(*args, **kwargs)
        # With TLS 1.3 the server sends its session tickets after the handshake; they have been
        # read with the first response. Taken here, in the thread that owns the connection.
        sock = self.sock
        if (
            isinstance(self.ssl_context, _ResumingContext)
            and isinstance(sock, ssl.SSLSocket)
            and (self._session_taken_from is None or self._session_taken_from() is not sock)
        ):
            self.ssl_context.remember_session(self.host, sock.session)
            self._session_taken_from = weakref.ref(sock)
        return response


class _ResumingPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _ResumingConnection


def build_ssl_context(config: TlsClientConfig) -> ssl.SSLContext:
    """Verification on, TLS 1.2+, the pinned CA (or the public ones), the client certificate;
    sessions resumed (_ResumingContext)."""
    # What ssl.create_default_context(cafile=...) sets up, in a context that resumes sessions.
    context = _ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=config.ca_bundle or certifi.where())
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if config.client_cert:
        context.load_cert_chain(config.client_cert, config.client_key)
    return context


_pools: dict[tuple[int, TlsClientConfig], urllib3.PoolManager] = {}
_pools_lock = threading.Lock()


def _pool_for(config: TlsClientConfig) -> urllib3.PoolManager:
    # Per process: a pool inherited through fork would share sockets with the parent.
    key = (os.getpid(), config)
    pool = _pools.get(key)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(key)
            if pool is None:
                try:
                    context = build_ssl_context(config)
                except (OSError, ssl.SSLError) as error:
                    raise OutboundError(
                        f"TLS client setup failed: {error.__class__.__name__}",
                        permanent=True,
                        configuration=True,
                    ) from None
                pool = urllib3.PoolManager(
                    num_pools=4,
                    maxsize=config.pool_size,
                    block=False,
                    ssl_context=context,
                    retries=False,
                )
                pool.pool_classes_by_scheme = {"http": _WaitingPool, "https": _ResumingPool}
                _pools[key] = pool
    return pool


def close_pooled_connections() -> None:
    """Close every pooled connection, as an upstream does with idle ones; the TLS sessions stay,
    so the next connections resume them."""
    with _pools_lock:
        for pool in _pools.values():
            pool.clear()


def reset_pools() -> None:
    """Drop every pooled connection (tests, and after certificates change)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.clear()
        _pools.clear()


def _refuse_unsafe_url(url: str) -> None:
    # Plain HTTP only to loopback (local fakes); card data never crosses a network unencrypted.
    problem = outbound_url_problem(url)
    if problem:
        raise OutboundError(f"outbound URL {problem}", permanent=True, configuration=True)


def post_json(
    url: str,
    payload: Any,
    *,
    config: TlsClientConfig,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Response:
    """POST ``payload`` as JSON and return the response if it is 2xx.

    ``meanwhile``: work to do once the request has been sent, while the upstream answers (not
    done when the request could not be sent); an error in it is logged, not raised.

    Raises OutboundError: transient for timeouts, connection failures, 5xx and 429; permanent
    for other 4xx, TLS failures and unusable URLs. Its message names the failure, never the body
    that was sent.
    """
    _refuse_unsafe_url(url)
    body = json.dumps(payload, separators=(",", ":")).encode()
    all_headers = {"Content-Type": "application/json", "Accept": "application/json"}
    all_headers.update(headers or {})
    connect, read = timeout or (config.connect_timeout, config.read_timeout)
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 1)

    _meanwhile.work = meanwhile
    try:
        raw = _pool_for(config).request(
            "POST",
            url,
            body=body,
            headers=all_headers,
            timeout=urllib3.Timeout(connect=connect, read=read),
            retries=False,
            redirect=False,
        )
    except OutboundError:
        raise
    except (SSLError, ssl.SSLError) as error:
        raise _tls_error(error, elapsed()) from None
    except MaxRetryError as error:
        reason = error.reason
        if isinstance(reason, SSLError | ssl.SSLError):
            raise _tls_error(reason, elapsed()) from None
        if isinstance(reason, Urllib3Timeout):
            raise OutboundError("timed out", permanent=False, duration_ms=elapsed()) from None
        if isinstance(reason, NewConnectionError | ProtocolError | OSError):
            raise OutboundError(
                "connection failed", permanent=False, duration_ms=elapsed()
            ) from None
        raise OutboundError(
            f"request failed: {error.__class__.__name__}", permanent=False, duration_ms=elapsed()
        ) from None
    except Urllib3Timeout:
        raise OutboundError("timed out", permanent=False, duration_ms=elapsed()) from None
    except (ProtocolError, HTTPError, OSError) as error:
        raise OutboundError(
            f"connection failed: {error.__class__.__name__}",
            permanent=False,
            duration_ms=elapsed(),
        ) from None
    finally:
        _meanwhile.work = None  # not sent: not done, and not left for the thread's next call

    response = Response(
        status=raw.status, body=raw.data or b"", headers=dict(raw.headers), duration_ms=elapsed()
    )
    if 200 <= raw.status < 300:
        return response
    transient = raw.status >= 500 or raw.status in (408, 429)
    raise OutboundError(
        f"HTTP {raw.status}",
        permanent=not transient,
        status=raw.status,
        configuration=raw.status in (401, 403),
        body=response.body,
        duration_ms=response.duration_ms,
    )


def _tls_error(error: BaseException, duration_ms: float) -> OutboundError:
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        detail = "the server's certificate is not trusted (check the CA bundle)"
    elif "hostname" in text.lower():
        detail = "the server's certificate does not match its host name"
    else:
        detail = "the TLS handshake failed (client certificate refused or TLS version)"
    return OutboundError(
        f"TLS error: {detail}", permanent=True, configuration=True, duration_ms=duration_ms
    )


def get_json(url: str, *, config: TlsClientConfig) -> Any:
    """GET a JSON document over HTTPS (e.g. a JWKS); raises OutboundError."""
    _refuse_unsafe_url(url)
    try:
        raw = _pool_for(config).request(
            "GET",
            url,
            headers={"Accept": "application/json"},
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            retries=False,
            redirect=False,
        )
    except (HTTPError, OSError) as error:
        raise OutboundError(
            f"request failed: {error.__class__.__name__}", permanent=False
        ) from None
    response = Response(
        status=raw.status, body=raw.data or b"", headers=dict(raw.headers), duration_ms=0
    )
    if raw.status != 200:
        raise OutboundError(f"HTTP {raw.status}", permanent=raw.status < 500, status=raw.status)
    return response.json()

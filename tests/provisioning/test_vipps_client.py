"""The Vipps client against the built-in sandbox: real HTTPS with mutual TLS on loopback."""

from __future__ import annotations

import uuid

import pytest

from issuer_portal.core.outbound import close_pooled_connections, reset_pools
from issuer_portal.core.pki import issue, make_ca
from issuer_portal.core.sensitive import SensitiveValue
from provisioning import vipps
from provisioning.jwe import encrypt_card_data
from provisioning.keys import current_jwe_key
from tests.conftest import PAN_ALICE_VISA
from tests.factories import request_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(alice):
    return alice.cards.get(last4="1111")


def test_success_headers_and_connection_reuse(vipps_sandbox, card):
    correlation = uuid.uuid4()
    results = [
        vipps.initiate_provisioning(request_for(card), correlation_id=correlation) for _ in range(5)
    ]
    assert all(vipps.is_allowed_universal_link(r.universal_link) for r in results)
    assert all(r.call.outcome == "success" and r.call.status_code == 200 for r in results)
    seen = vipps_sandbox.seen
    assert {s.request_id for s in seen} == {str(correlation)}
    assert len({s.trace_id for s in seen}) == 5
    assert {str(r.call.trace_id) for r in results} == {s.trace_id for s in seen}
    assert seen[0].system_name == "issuer-portal"
    # One mutual-TLS handshake, then the pooled connection is reused.
    assert vipps_sandbox.connections == 1


def test_new_connections_resume_the_tls_session_of_an_earlier_one(vipps_sandbox, card):
    """Mutual TLS costs a full handshake once per process: a new connection (a crowd's, or one
    after the pooled ones closed) resumes that session, and still reaches Vipps as us."""
    first = vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    close_pooled_connections()  # the context keeps the session
    second = vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    assert first.call.outcome == second.call.outcome == "success"
    assert vipps_sandbox.connections == 2
    assert [s.resumed_session for s in vipps_sandbox.seen] == [False, True]
    # A new configuration (another certificate, another trust) starts without sessions.
    reset_pools()
    vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    assert vipps_sandbox.seen[-1].resumed_session is False


def test_the_tls_session_is_taken_once_per_connection(vipps_sandbox, card):
    """Reading a connection's TLS session copies it (certificates included): it is read at the
    first response of each connection, not at every call on a kept one."""
    from issuer_portal.core import outbound

    def remembered() -> list[object]:
        contexts = [pool.connection_pool_kw["ssl_context"] for pool in outbound._pools.values()]
        return [session for c in contexts for session in c.sessions_by_host.values()]

    vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    (first,) = remembered()
    for _ in range(3):
        vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    assert remembered() == [first] and remembered()[0] is first
    close_pooled_connections()
    vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    (second,) = remembered()
    assert second is not first  # the new connection's own session
    assert vipps_sandbox.connections == 2


@pytest.mark.parametrize(
    ("fault", "code", "permanent", "configuration"),
    [
        ("503", "INTERNAL_SERVER_ERROR", False, False),
        ("500", "INTERNAL_SERVER_ERROR", False, False),
        ("html", "HTTP_502", False, False),
        ("empty", "HTTP_503", False, False),
        ("400", "REQUEST_VALIDATION_ERROR", True, False),
        ("401", "UNAUTHORIZED", True, True),
        ("malformed", "MALFORMED_RESPONSE", True, False),
        ("badhost", "LINK_NOT_ALLOWED", True, False),
    ],
)
def test_outcomes_map_to_typed_errors(vipps_sandbox, card, fault, code, permanent, configuration):
    vipps_sandbox.faults.append(fault)
    with pytest.raises(vipps.VippsError) as caught:
        vipps.initiate_provisioning(request_for(card), correlation_id=uuid.uuid4())
    error = caught.value
    assert (error.code, error.permanent, error.configuration) == (code, permanent, configuration)
    assert error.call is not None and error.call.error_code == code
    assert PAN_ALICE_VISA not in str(error)


def test_a_slow_answer_times_out_as_transient(vipps_sandbox, card):
    vipps_sandbox.faults.append("slow:1.0")
    with pytest.raises(vipps.VippsError) as caught:
        vipps.initiate_provisioning(
            request_for(card), correlation_id=uuid.uuid4(), read_timeout=0.3
        )
    assert caught.value.code == "TIMEOUT" and not caught.value.permanent


def test_the_sandbox_validates_every_field(vipps_sandbox, card):
    with pytest.raises(vipps.VippsError) as caught:
        vipps.initiate_provisioning(request_for(card, last4="9999"), correlation_id=uuid.uuid4())
    assert caught.value.code == "REQUEST_VALIDATION_ERROR"
    other = encrypt_card_data(
        pan=SensitiveValue("5555555555554444"), expiry="2030-01", key=current_jwe_key()
    )
    with pytest.raises(vipps.VippsError):
        vipps.initiate_provisioning(
            request_for(card, encrypted_card_data=other), correlation_id=uuid.uuid4()
        )
    with pytest.raises(vipps.VippsError):
        vipps.initiate_provisioning(
            request_for(card, country_code="DK"), correlation_id=uuid.uuid4()
        )


def test_requests_are_validated_before_sending(vipps_sandbox, card):
    for bad in (
        {"issuer_name": ""},
        {"last4": "12a4"},
        {"suggested_nickname": "Tiny"},
        {"country_code": "US"},
        {"app_switch": False},
    ):
        with pytest.raises(vipps.VippsError) as caught:
            vipps.initiate_provisioning(request_for(card, **bad), correlation_id=uuid.uuid4())
        assert caught.value.code == "INVALID_REQUEST" and caught.value.call is None
    assert vipps_sandbox.seen == []


def test_nicknames_are_sent_only_when_vipps_accepts_them():
    assert vipps.suggested_nickname("Tiny") is None
    assert vipps.suggested_nickname("Daily") == "Daily"
    assert vipps.suggested_nickname("x" * 25) == "x" * 25
    assert vipps.suggested_nickname("x" * 26) is None
    assert vipps.suggested_nickname("") is None


def test_mutual_tls_failures_fail_cleanly(vipps_sandbox, card, settings, tmp_path, monkeypatch):
    from provisioning.sandbox.material import sandbox_material

    material = sandbox_material()
    request = request_for(card)
    settings.VIPPS_SANDBOX = False
    settings.VIPPS_PROVISIONING_URL = vipps_sandbox.url
    settings.VIPPS_UNIVERSAL_LINK_HOSTS = ["127.0.0.1"]
    settings.VIPPS_CA_BUNDLE = str(material.ca_cert)
    settings.VIPPS_CLIENT_CERT = str(material.client_cert)
    settings.VIPPS_CLIENT_KEY = str(material.client_key)
    # The environment must not be able to swap the trusted CA (REQUESTS_CA_BUNDLE and friends).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent.pem")
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent.pem")
    reset_pools()

    def attempt() -> vipps.VippsError:
        reset_pools()
        with pytest.raises(vipps.VippsError) as caught:
            vipps.initiate_provisioning(request, correlation_id=uuid.uuid4())
        return caught.value

    # Configured properly it reaches the sandbox (the link host is not real-Vipps, so refused).
    assert attempt().code == "LINK_NOT_ALLOWED"

    # No client certificate: the sandbox refuses the handshake.
    settings.VIPPS_CLIENT_CERT = settings.VIPPS_CLIENT_KEY = ""
    error = attempt()
    assert error.code in ("TLS", "CONNECTION_FAILED") and error.call.status_code is None

    # A client certificate from another CA: refused too.
    stranger = issue(make_ca("Somebody else's CA"), "intruder").write(tmp_path, "intruder")
    settings.VIPPS_CLIENT_CERT, settings.VIPPS_CLIENT_KEY = (str(p) for p in stranger)
    error = attempt()
    assert error.code in ("TLS", "CONNECTION_FAILED") and error.call.status_code is None

    # Our pinned CA does not know the server: never trusted, never retried.
    settings.VIPPS_CLIENT_CERT = str(material.client_cert)
    settings.VIPPS_CLIENT_KEY = str(material.client_key)
    settings.VIPPS_CA_BUNDLE = str(make_ca("Pinned, unrelated CA").write(tmp_path, "pinned")[0])
    error = attempt()
    assert error.code == "TLS" and error.permanent and error.configuration


def test_the_sandbox_builds_its_rsa_key_before_the_first_request(vipps_sandbox):
    """jwcrypto builds the private key object on first use, without a lock: a crowd at a cold
    sandbox built it once per request (seconds of CPU), and the first crowd then met a Vipps
    much slower than the one the sandbox stands for. It is built when the key is loaded."""
    from provisioning.sandbox.server import _private_key

    fresh = _private_key.__wrapped__(str(vipps_sandbox.material.jwe_private_key))  # uncached
    assert fresh._cache_pri_k is not None  # built as it is loaded, before any request


def test_work_for_meanwhile_is_done_after_the_request_is_sent_and_before_its_answer(
    vipps_sandbox, card
):
    """The cardholder's call is counted in the Vipps rate limit this way: while Vipps answers,
    not before the request leaves."""
    import time

    vipps_sandbox.latency = 0.5
    correlation = uuid.uuid4()
    observed = []

    def meanwhile() -> None:
        deadline = time.monotonic() + 5
        while not vipps_sandbox.arrived and time.monotonic() < deadline:
            time.sleep(0.005)
        observed.append(([rid for rid, _ in vipps_sandbox.arrived], len(vipps_sandbox.seen)))

    result = vipps.initiate_provisioning(
        request_for(card), correlation_id=correlation, meanwhile=meanwhile
    )
    assert result.call.outcome == "success"
    # When the work was done, Vipps had the request and had not answered it yet.
    assert observed == [([str(correlation)], 0)]


def test_work_for_meanwhile_is_not_done_when_the_request_cannot_be_sent(settings, card):
    from tests.processes import free_port

    settings.VIPPS_PROVISIONING_URL = f"https://127.0.0.1:{free_port()}/provisioning"
    done = []
    with pytest.raises(vipps.VippsError) as raised:
        vipps.initiate_provisioning(
            request_for(card), correlation_id=uuid.uuid4(), meanwhile=lambda: done.append(1)
        )
    assert not raised.value.permanent and done == []


def test_a_failure_of_the_work_for_meanwhile_costs_the_call_nothing(vipps_sandbox, card, caplog):
    def meanwhile() -> None:
        raise RuntimeError("the rate-limit count broke")

    result = vipps.initiate_provisioning(
        request_for(card), correlation_id=uuid.uuid4(), meanwhile=meanwhile
    )
    assert result.call.outcome == "success" and len(vipps_sandbox.seen) == 1
    assert "the work done while waiting failed" in caplog.text

"""Benchmarks of push provisioning against the built-in mTLS sandbox (``make bench``)."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache

from issuer_portal.core.outbound import close_pooled_connections, reset_pools
from provisioning import vipps
from provisioning.models import ProvisioningAttempt
from tests.factories import request_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def card(alice):
    return alice.cards.get(last4="1111")


def test_vipps_call_reused_mtls_connection(benchmark, vipps_sandbox, card):
    request = request_for(card)
    vipps.initiate_provisioning(request, correlation_id=uuid.uuid4())  # handshake once
    benchmark(lambda: vipps.initiate_provisioning(request, correlation_id=uuid.uuid4()))
    assert vipps_sandbox.connections == 1


def test_vipps_call_new_mtls_handshake_each_time(benchmark, vipps_sandbox, card):
    request = request_for(card)

    def fresh_connection_call():
        reset_pools()
        return vipps.initiate_provisioning(request, correlation_id=uuid.uuid4())

    benchmark(fresh_connection_call)
    assert vipps_sandbox.connections > 1


def test_vipps_call_new_mtls_connection_resuming_the_session(benchmark, vipps_sandbox, card):
    """A new connection after the pooled ones closed (Vipps closes idle ones): it resumes the
    process's TLS session instead of a full handshake."""
    request = request_for(card)
    vipps.initiate_provisioning(request, correlation_id=uuid.uuid4())  # the session to resume

    def new_connection_call():
        close_pooled_connections()
        return vipps.initiate_provisioning(request, correlation_id=uuid.uuid4())

    benchmark(new_connection_call)
    assert all(seen.resumed_session for seen in vipps_sandbox.seen[1:])


def test_jwe_encryption_4096_bit_key(benchmark, vipps_sandbox, card):
    from provisioning.jwe import encrypt_card_data
    from provisioning.keys import current_jwe_key

    key = current_jwe_key()
    benchmark(lambda: encrypt_card_data(pan=card.pan, expiry=card.expiry, key=key))


def test_add_click_to_303_phone(benchmark, client, alice, card, vipps_sandbox, settings):
    """From the tap on "Add to Vipps" to the redirect to the universal link."""
    settings.PROVISIONING_RATE_LIMIT = 10_000
    client.force_login(alice.user)
    url = f"/cards/{card.public_id}/provision/"

    def click():
        ProvisioningAttempt.objects.update(state="failed")
        cache.clear()
        return client.post(url, HTTP_USER_AGENT="iPhone")

    response = benchmark.pedantic(click, rounds=30, iterations=1, warmup_rounds=2)
    assert response.status_code == 303

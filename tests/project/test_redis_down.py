"""Redis unreachable (restarted, failed over): the cache degrades, the cardholder carries on.

The cache points at a port where nothing listens: every call is really refused.
"""

from __future__ import annotations

import socket

import pytest
from django.core.cache import cache

from issuer_portal.core.counters import CacheUnavailable, count_in_window
from provisioning.models import ProvisioningAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings.CACHES = {
        "default": {
            "BACKEND": "issuer_portal.core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    return port


def test_reads_miss_writes_are_skipped_and_counts_say_so(redis_down):
    assert cache.get("anything", "default") == "default"
    assert cache.get_many(["a", "b"]) == {}
    cache.set("a", 1)
    cache.set_many({"a": 1})
    assert cache.add("a", 1) is False
    assert cache.delete("a") is False
    cache.delete_many(["a"])
    assert cache.has_key("a") is False
    with pytest.raises(CacheUnavailable):
        count_in_window("a", 10)
    with pytest.raises(CacheUnavailable):
        cache.incr("a")


def test_the_card_list_and_add_work_and_the_limit_counts_in_the_database(
    redis_down, client, alice, vipps_sandbox, settings
):
    settings.PROVISIONING_RATE_LIMIT = 1
    client.force_login(alice.user)  # the session is in the database
    page = client.get("/cards/")
    assert page.status_code == 200
    assert page.content.decode().count("Add to Vipps") == 2  # looked up, nothing cached
    visa, mastercard = alice.cards.get(last4="1111"), alice.cards.get(last4="4444")
    pressed = client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT="iPhone")
    attempt = ProvisioningAttempt.objects.get(card=visa)
    assert pressed.status_code == 303 and pressed["Location"] == attempt.universal_link
    # A second new attempt in the window: over the limit of one, counted from the database.
    refused = client.post(f"/cards/{mastercard.public_id}/provision/", HTTP_USER_AGENT="iPhone")
    assert refused.status_code == 429
    assert not ProvisioningAttempt.objects.filter(card=mastercard).exists()

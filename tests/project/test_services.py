"""The real backing services CI provides: PostgreSQL and Redis (cache and Celery broker)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from tests.conftest import PAN_ALICE_VISA, assert_no_card_data_in_cache


@pytest.mark.django_db
@pytest.mark.redis
def test_redis_url_switches_cache_and_broker_to_redis():
    assert settings.CACHES["default"]["BACKEND"] == "issuer_portal.core.cache.RedisCache"
    assert settings.CELERY_BROKER_URL == settings.REDIS_URL
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    key = f"test:{uuid.uuid4().hex}"
    cache.set(key, "value", timeout=30)
    raw = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    stored = [k for k in raw.scan_iter(match=f"*{key}")]
    assert len(stored) == 1
    assert cache.get(key) == "value"
    cache.delete(key)


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_checks_the_real_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "vipps_client": "ok",
        "stand_ins": "simulated",  # the suite runs like a staging system
    }


@pytest.mark.redis
@pytest.mark.django_db
def test_no_card_data_reaches_redis(client, alice):
    client.force_login(alice.user)
    client.get("/cards/")
    assert_no_card_data_in_cache([PAN_ALICE_VISA, alice.nin.reveal()])


@pytest.mark.redis
def test_a_count_in_redis_lives_for_its_window_from_its_first_call():
    """One atomic step a count: the first call makes the key with its lifetime, the later ones
    add to it and leave the lifetime as it was; the script is sent again if Redis forgot it."""
    from issuer_portal.core.counters import count_in_window

    key = f"test:count:{uuid.uuid4().hex}"
    raw = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert [count_in_window(key, 30) for _ in range(3)] == [1, 2, 3]
    (stored,) = raw.scan_iter(match=f"*{key}")
    assert 0 < raw.ttl(stored) <= 30
    raw.expire(stored, 5)
    assert count_in_window(key, 30) == 4 and raw.ttl(stored) <= 5  # the window is not renewed
    raw.script_flush()
    assert count_in_window(key, 30) == 5

"""The real backing services CI provides: PostgreSQL and Redis (cache and Celery broker)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from tests.conftest import PAN_ALICE_VISA


@pytest.mark.django_db
@pytest.mark.redis
def test_redis_url_switches_cache_and_broker_to_redis():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
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


def assert_no_card_data_in_cache(secrets: list[str]) -> None:
    """Every key and value of the configured cache (Redis when REDIS_URL is set)."""
    if settings.REDIS_URL:
        # The cache's database and the broker's: every key, every value.
        for url in {settings.CACHES["default"]["LOCATION"], settings.CELERY_BROKER_URL}:
            raw = redis.Redis.from_url(url)
            for key in raw.scan_iter(count=1000):
                value = raw.dump(key) or b""
                for secret in secrets:
                    assert secret.encode() not in key and secret.encode() not in value
        return
    from django.core.cache.backends.locmem import _caches

    for store in _caches.values():
        for key, value in store.items():
            for secret in secrets:
                assert secret not in key and secret.encode() not in value

"""Item 6 (health): liveness without I/O, readiness that reports stand-ins and is cached."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext


@pytest.mark.django_db
def test_liveness_does_no_io(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


@pytest.mark.django_db
def test_sandbox_or_simulator_in_production_make_readiness_fail(client, settings):
    settings.STAND_INS_ALLOWED = False
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["stand_ins"] == "failing"
    settings.STAND_INS_ALLOWED = True  # a staging system that says so
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["stand_ins"] == "simulated"


@pytest.mark.django_db
def test_readiness_is_cached_per_process(client, settings):
    from issuer_portal import health

    settings.READINESS_CACHE_SECONDS = 60
    health._report.forget()
    client.get("/readyz")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert client.get("/readyz").status_code == 200
    assert not [q for q in queries.captured_queries if "SELECT 1" in q["sql"]]
    health._report.forget()


@pytest.mark.redis
@pytest.mark.django_db
def test_the_broker_connection_is_reused_between_rounds(client):
    from issuer_portal import health

    client.get("/readyz")
    first = dict(health._broker_connections)
    for _ in range(5):
        assert client.get("/readyz").json()["checks"]["broker"] == "ok"
    assert dict(health._broker_connections) == first

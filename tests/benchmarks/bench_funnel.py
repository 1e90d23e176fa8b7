"""The funnel with a million provisioning attempts (``make bench``)."""

from __future__ import annotations

import datetime
import random
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.analytics import funnel_report
from provisioning.models import ProvisioningAttempt, ProvisioningOffer, UpstreamCall
from tests.factories import CardFactory, CardholderFactory

pytestmark = pytest.mark.django_db

ATTEMPTS = 1_000_000
DAYS = 90


@pytest.fixture
def million_attempts(db):
    rng = random.Random(42)  # noqa: S311 - benchmark data
    holders = [CardholderFactory(country=c) for c in ("NO", "DK", "FI", "SE")]
    cards = [CardFactory(cardholder=h) for h in holders for _ in range(5)]
    now = timezone.now()
    states = ["completed", "failed", "expired", "returned"]
    errors = ["", "", "", "INTERNAL_SERVER_ERROR", "REQUEST_VALIDATION_ERROR", "TIMEOUT"]
    batch = []
    for index in range(ATTEMPTS):
        card = cards[index % len(cards)]
        created = now - datetime.timedelta(seconds=rng.randrange(DAYS * 86400))
        state = states[index % 4]
        batch.append(
            ProvisioningAttempt(
                card=card,
                cardholder_id=card.cardholder_id,
                channel="web" if index % 3 else "app",
                state=state,
                error_code=rng.choice(errors) if state in ("failed", "expired") else "",
                created_at=created,
                link_ready_at=created if state != "failed" else None,
                returned_at=created if state in ("completed", "returned") else None,
            )
        )
        if len(batch) == 20_000:
            ProvisioningAttempt.objects.bulk_create(batch)
            batch.clear()
    first = ProvisioningAttempt.objects.order_by("pk").first()
    UpstreamCall.objects.bulk_create(
        UpstreamCall(
            attempt_id=first.pk,
            trace_id=uuid.uuid4(),
            started_at=now - datetime.timedelta(seconds=rng.randrange(DAYS * 86400)),
            duration_ms=rng.uniform(5, 400),
            outcome="success",
        )
        for _ in range(200_000)
    )
    ProvisioningOffer.objects.bulk_create(
        ProvisioningOffer(
            day=timezone.localdate() - datetime.timedelta(days=day),
            card=card,
            channel=channel,
            brand=card.cardholder.wallet_brand.value,
            network=card.network,
        )
        for day in range(DAYS)
        for card in cards
        for channel in ("web", "app")
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def test_funnel_14_days_over_a_million_attempts(benchmark, million_attempts):
    assert ProvisioningAttempt.objects.count() == ATTEMPTS
    today = timezone.localdate()
    report = benchmark.pedantic(
        lambda: funnel_report(start=today - datetime.timedelta(days=13), end=today),
        rounds=3,
        iterations=1,
    )
    assert report.totals.started > 100_000 and report.latency_p95_ms is not None

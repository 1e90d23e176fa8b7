"""Prometheus metrics. Outcomes are counted from the database at scrape time (right across every
worker process); latencies and counters are observed in process (set PROMETHEUS_MULTIPROC_DIR
when gunicorn runs several workers)."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

VIPPS_LATENCY = Histogram(
    "vipps_upstream_latency_seconds",
    "Duration of calls to the Vipps provisioning endpoint",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
TOKEN_SERVICE_LATENCY = Histogram(
    "token_service_latency_seconds",
    "Duration of token lookups per card",
    ["adapter", "outcome"],
    buckets=LATENCY_BUCKETS,
)
PROVISIONING_RETRIES = Counter(
    "provisioning_retries_total", "Provisioning retries scheduled after transient failures"
)
TOKEN_STATUS_CACHE = Counter(
    "token_status_cache_requests_total", "Token status lookups served by the cache", ["result"]
)


class ProvisioningOutcomeCollector(Collector):
    """Attempts of the last 24 hours by state and error code, from one aggregate query."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count
        from django.utils import timezone

        from provisioning.models import ProvisioningAttempt

        family = GaugeMetricFamily(
            "provisioning_attempts_last_24h",
            "Provisioning attempts created in the last 24 hours, by state and error code",
            labels=["state", "error_code"],
        )
        since = timezone.now() - datetime.timedelta(hours=24)
        rows = (
            ProvisioningAttempt.objects.filter(created_at__gte=since)
            .values("state", "error_code")
            .annotate(total=Count("id"))
            .order_by()
        )
        for row in rows:
            family.add_metric([row["state"], row["error_code"] or "none"], row["total"])
        yield family


def render_metrics() -> bytes:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    output = generate_latest(registry)
    outcomes = CollectorRegistry()
    outcomes.register(ProvisioningOutcomeCollector())
    return output + generate_latest(outcomes)

"""Prometheus metrics. Outcomes are counted from the database at scrape time (right across every
worker process); latencies and counters are observed in process (set PROMETHEUS_MULTIPROC_DIR
when gunicorn runs several workers)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
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


# Collectors that read the database when scraped (e.g. provisioning's outcomes of the last
# day); apps add theirs in AppConfig.ready(), so this core module imports no app.
SNAPSHOT_COLLECTORS: list[Collector] = []


def register_snapshot_collector(collector: Collector) -> None:
    if not any(type(c) is type(collector) for c in SNAPSHOT_COLLECTORS):
        SNAPSHOT_COLLECTORS.append(collector)


def render_metrics() -> bytes:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    output = generate_latest(registry)
    snapshots = CollectorRegistry()
    for collector in SNAPSHOT_COLLECTORS:
        snapshots.register(collector)
    return output + generate_latest(snapshots)

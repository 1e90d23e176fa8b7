"""Provisioning's metrics read from the database when Prometheus scrapes /metrics."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from provisioning.models import ProvisioningAttempt


class ProvisioningOutcomeCollector(Collector):
    """Attempts of the last 24 hours by state and error code, from one aggregate query."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
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

"""The provisioning funnel, from aggregate queries only (a fixed number whatever the volume).

Stages: cards offered "Add" -> attempts started -> link issued -> returned -> token active
(attempt completed). Split by day, brand, network and channel; plus the top error codes and
the median / 95th percentile latency of calls to Vipps.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from issuer_portal.cards.models import WALLET_BRAND_BY_COUNTRY
from issuer_portal.core.local_time import local_day_bounds
from provisioning.models import ProvisioningAttempt, ProvisioningOffer, UpstreamCall
from tokens.models import TokenChange

STAGES = ("offered", "started", "link_issued", "returned", "completed")
STAGE_LABELS = {
    "offered": "Offered “Add”",
    "started": "Attempts started",
    "link_issued": "Link issued",
    "returned": "Returned",
    "completed": "Token active",
}


@dataclass
class FunnelCounts:
    offered: int = 0
    started: int = 0
    link_issued: int = 0
    returned: int = 0
    completed: int = 0

    def add(self, stage: str, amount: int) -> None:
        setattr(self, stage, getattr(self, stage) + amount)

    def stages(self) -> list[tuple[str, int, float | None]]:
        """(stage, count, % of the previous stage)."""
        result, previous = [], None
        for stage in STAGES:
            count = getattr(self, stage)
            rate = round(100 * count / previous, 1) if previous else None
            result.append((stage, count, rate))
            previous = count
        return result

    @property
    def overall_conversion(self) -> float | None:
        return round(100 * self.completed / self.offered, 1) if self.offered else None


@dataclass
class FunnelReport:
    start: datetime.date
    end: datetime.date
    totals: FunnelCounts = field(default_factory=FunnelCounts)
    by_day: dict[datetime.date, FunnelCounts] = field(default_factory=dict)
    by_brand: dict[str, FunnelCounts] = field(default_factory=dict)
    by_network: dict[str, FunnelCounts] = field(default_factory=dict)
    by_channel: dict[str, FunnelCounts] = field(default_factory=dict)
    top_errors: list[tuple[str, int]] = field(default_factory=list)
    calls: int = 0
    latency_median_ms: float | None = None
    latency_p95_ms: float | None = None
    # Token changes made in the period (done): what happens to tokens after they exist.
    token_changes: dict[str, int] = field(default_factory=dict)


# The token changes the funnel counts, by name: (action, who asked).
TOKEN_CHANGE_ROWS = {
    "paused_by_cardholders": ("suspend", ("cardholder",)),
    "removed_by_cardholders": ("delete", ("cardholder",)),
    "resumed_by_cardholders": ("resume", ("cardholder",)),
    "suspended_by_the_bank": ("suspend", ("bank_staff", "bank_system")),
    "deleted_by_the_bank": ("delete", ("bank_staff", "bank_system")),
    "moved_to_reissued_cards": ("update_funding_account", ("bank_staff", "bank_system")),
}


def _brand(country: str) -> str:
    return WALLET_BRAND_BY_COUNTRY[country].value if country in WALLET_BRAND_BY_COUNTRY else "?"


def funnel_report(
    *,
    start: datetime.date,
    end: datetime.date,
    brand: str = "",
    network: str = "",
    channel: str = "",
) -> FunnelReport:
    """The funnel from ``start`` to ``end`` (inclusive, local dates), optionally filtered."""
    zone = timezone.get_current_timezone()
    since, until = local_day_bounds(start, end)
    countries = [c for c, b in WALLET_BRAND_BY_COUNTRY.items() if b == brand] if brand else None
    report = FunnelReport(start=start, end=end)
    by_day: dict = defaultdict(FunnelCounts)
    splits: dict[str, dict] = {
        "brand": defaultdict(FunnelCounts),
        "network": defaultdict(FunnelCounts),
        "channel": defaultdict(FunnelCounts),
    }

    def count(day: datetime.date, keys: dict[str, str], stage: str, amount: int) -> None:
        report.totals.add(stage, amount)
        by_day[day].add(stage, amount)
        for name, value in keys.items():
            splits[name][value].add(stage, amount)

    offers = ProvisioningOffer.objects.filter(day__gte=start, day__lte=end)
    if brand:
        offers = offers.filter(brand=brand)
    if network:
        offers = offers.filter(network=network)
    if channel:
        offers = offers.filter(channel=channel)
    for row in (
        offers.values("day", "brand", "network", "channel").annotate(n=Count("id")).order_by()
    ):
        keys = {"brand": row["brand"], "network": row["network"], "channel": row["channel"]}
        count(row["day"], keys, "offered", row["n"])

    attempts = ProvisioningAttempt.objects.filter(created_at__gte=since, created_at__lt=until)
    if countries is not None:
        attempts = attempts.filter(cardholder__country__in=countries)
    if network:
        attempts = attempts.filter(card__network=network)
    if channel:
        attempts = attempts.filter(channel=channel)
    rows = (
        attempts.annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "cardholder__country", "card__network", "channel")
        .annotate(
            started=Count("id"),
            link_issued=Count("id", filter=Q(link_ready_at__isnull=False)),
            returned=Count("id", filter=Q(returned_at__isnull=False)),
            completed=Count("id", filter=Q(state="completed")),
        )
        .order_by()
    )
    for row in rows:
        keys = {
            "brand": _brand(row["cardholder__country"]),
            "network": row["card__network"],
            "channel": row["channel"],
        }
        for stage in ("started", "link_issued", "returned", "completed"):
            count(row["day"], keys, stage, row[stage])

    report.top_errors = [
        (row["error_code"], row["n"])
        for row in attempts.exclude(error_code="")
        .values("error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")[:10]
    ]

    calls = UpstreamCall.objects.filter(
        started_at__gte=since, started_at__lt=until, duration_ms__isnull=False
    )
    if countries is not None or network or channel:
        calls = calls.filter(attempt__in=attempts.values("pk"))
    report.calls = calls.count()
    if report.calls:
        ordered = calls.order_by("duration_ms").values_list("duration_ms", flat=True)
        report.latency_median_ms = ordered[(report.calls - 1) // 2]
        report.latency_p95_ms = ordered[max(0, math.ceil(0.95 * report.calls) - 1)]

    changes = TokenChange.objects.filter(
        state="done", finished_at__gte=since, finished_at__lt=until
    )
    if countries is not None:
        changes = changes.filter(card__cardholder__country__in=countries)
    if network:
        changes = changes.filter(card__network=network)
    counted = {
        (row["action"], row["actor"]): row["n"]
        for row in changes.values("action", "actor").annotate(n=Count("id"))
    }
    report.token_changes = {
        name: sum(counted.get((action, actor), 0) for actor in actors)
        for name, (action, actors) in TOKEN_CHANGE_ROWS.items()
    }

    day = start
    while day <= end:
        report.by_day[day] = by_day.get(day, FunnelCounts())
        day += datetime.timedelta(days=1)
    report.by_brand = dict(sorted(splits["brand"].items()))
    report.by_network = dict(sorted(splits["network"].items()))
    report.by_channel = dict(sorted(splits["channel"].items()))
    return report

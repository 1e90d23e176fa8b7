"""Bulk work of the server benchmark: the token-status refresh over 100,000 cards (memory and
rate limit), and a backlog of 1,000 attempts draining through a real Celery worker at the Vipps
rate limit. Run by ``tests.benchmarks.server`` (``--only bulk``) in its database and Redis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import celery_worker_command

BASE_DIR = Path(__file__).resolve().parents[2]
SMALL, LARGE = 10_000, 100_000
BACKLOG = 1_000
VIPPS_RATE = 30

_ADD_CARDS = """
import django; django.setup()
from issuer_portal.cards.models import Card, Cardholder
from tests.factories import luhn_pan
holders = list(Cardholder.objects.order_by("pk")[:100])  # the seeded ones
batch = []
for index in range(%(count)d):
    card = Card(cardholder=holders[index %% 100], expiry="2030-06", product="Visa Debit")
    card.set_pan(luhn_pan())
    batch.append(card)
    if len(batch) == 2000:
        Card.objects.bulk_create(batch); batch = []
Card.objects.bulk_create(batch)
print(Card.objects.count())
"""

# With a limit, the time of every lookup as the token service (the simulator) sees it comes in,
# and the most of them in any one second (sliding).
_REFRESH = """
import bisect, resource, sys, time, django; django.setup()
from django.core.management import call_command
from tokens.adapters.simulator import SimulatorAdapter
limited = float(sys.argv[1]) < 1e9
asked_at = []
if limited:
    lookup = SimulatorAdapter.tokens_for_card
    def timed_lookup(self, *args, **kwargs):
        asked_at.append(time.monotonic())
        return lookup(self, *args, **kwargs)
    SimulatorAdapter.tokens_for_card = timed_lookup
call_command("refresh_token_status", "--all", "--quiet", "--batch-size", "500",
             "--per-second", sys.argv[1])
print("peak_rss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
asked_at.sort()
print("busiest_second", max(
    (bisect.bisect_left(asked_at, at + 1) - index for index, at in enumerate(asked_at)),
    default=0,
))
"""

_BACKLOG = """
import json, django; django.setup()
from provisioning.models import ProvisioningAttempt
from issuer_portal.cards.models import Card
taken = ProvisioningAttempt.objects.values("card_id")
cards = Card.objects.exclude(pk__in=taken).order_by("-pk")[:%(count)d]
ids = [ProvisioningAttempt.objects.create(card=c, cardholder_id=c.cardholder_id).pk for c in cards]
print(json.dumps(ids))
"""

_ENQUEUE = """
import json, sys, django; django.setup()
from provisioning.tasks import provision_card
for attempt_id in json.loads(sys.stdin.read()):
    provision_card.apply_async(args=[attempt_id], queue="bench-backlog")
"""


def _python(env: dict[str, str], script: str, *args: str, stdin: str = "") -> str:
    return _run_python(env, script, *args, stdin=stdin).stdout


def _run_python(
    env: dict[str, str], script: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """A script in the benchmark's environment; the benchmark stops, with its stderr, if it
    fails."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=BASE_DIR,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        sys.exit(f"bench: a bulk step failed:\n{done.stderr[-3000:]}")
    return done


def _refresh(env: dict[str, str], per_second: float) -> dict[str, float]:
    done = _run_python({**env, "TOKEN_SIMULATOR_LATENCY_MS": "0"}, _REFRESH, str(per_second))
    final = re.search(r"refreshed ([\d,]+) of [\d,]+ cards in ([\d.]+) s", done.stderr)
    cards, seconds = int(final.group(1).replace(",", "")), float(final.group(2))
    figures = {
        "cards": cards,
        "seconds": seconds,
        "per_second": round(cards / seconds, 1),
        "peak_rss_mib": round(int(re.search(r"peak_rss_kib (\d+)", done.stdout).group(1)) / 1024),
        "progress_lines": done.stderr.count("\n") + 1,
    }
    if per_second < 1e9:
        busiest = re.search(r"busiest_second (\d+)", done.stdout)
        figures["lookups in the busiest second (sliding)"] = int(busiest.group(1))
    return figures


def refresh_figures(env: dict[str, str]) -> tuple[dict, dict]:
    """Peak memory of a refresh of 10,000 and of 100,000 cards; then a limited run."""
    _python(env, _ADD_CARDS % {"count": SMALL})
    small = _refresh(env, 1e9)
    limit = max(10, round(small["per_second"] / 2))
    limited = _refresh(env, limit)  # the same cards at half the rate they can go
    _python(env, _ADD_CARDS % {"count": LARGE - SMALL})
    large = _refresh(env, 1e9)
    results = {
        f"refresh {SMALL:,} cards, no limit": small,
        f"refresh {SMALL:,} cards at {limit}/s": limited,
        f"refresh {LARGE:,} cards, no limit": large,
    }
    goals = {
        "refresh peak memory 100k / 10k cards <= 1.1 (flat)": round(
            large["peak_rss_mib"] / small["peak_rss_mib"], 2
        ),
        f"refresh with limit {limit}/s: lookups in the busiest second <= limit": limited[
            "lookups in the busiest second (sliding)"
        ],
    }
    return results, goals


def backlog_figures(env: dict[str, str], worker_command: list[str]) -> tuple[dict, dict]:
    """1,000 attempts whose retries come due at once (Vipps is back after an outage) drain
    through a real worker at VIPPS_RATE_LIMIT_PER_SECOND."""
    import psycopg

    ids = json.loads(_python(env, _BACKLOG % {"count": BACKLOG}).strip().splitlines()[-1])
    worker_env = {**env, "VIPPS_RATE_LIMIT_PER_SECOND": str(VIPPS_RATE)}
    worker = subprocess.Popen(
        worker_command,
        cwd=BASE_DIR,
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(3)  # the worker is up and consuming
        started = time.time()
        _python(worker_env, _ENQUEUE, stdin=json.dumps(ids))
        deadline = time.monotonic() + 4 * BACKLOG / VIPPS_RATE
        with psycopg.connect(env["DATABASE_URL"]) as connection:
            while time.monotonic() < deadline:
                pending = connection.execute(
                    "SELECT count(*) FROM provisioning_provisioningattempt"
                    " WHERE id = ANY(%s) AND state = 'requested'",
                    (ids,),
                ).fetchone()[0]
                if not pending:
                    break
                time.sleep(0.5)
            rows = connection.execute(
                "SELECT extract(epoch FROM c.started_at), a.state"
                " FROM provisioning_upstreamcall c"
                " JOIN provisioning_provisioningattempt a ON a.id = c.attempt_id"
                " WHERE a.id = ANY(%s)",
                (ids,),
            ).fetchall()
            linked = connection.execute(
                "SELECT count(*) FROM provisioning_provisioningattempt"
                " WHERE id = ANY(%s) AND state = 'link_ready'",
                (ids,),
            ).fetchone()[0]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    calls = sorted(float(at) for at, _ in rows)
    per_second: dict[int, int] = {}
    for at in calls:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    drain = calls[-1] - started if calls else 0.0
    results = {
        f"backlog of {BACKLOG:,} attempts, limit {VIPPS_RATE}/s": {
            "linked": linked,
            "upstream_calls": len(calls),
            "drain_seconds": round(drain, 1),
            "calls_per_second": round(len(calls) / drain, 1) if drain else 0.0,
            "busiest_second": max(per_second.values()) if per_second else 0,
            "floor_seconds (baseline: backlog / limit)": round(BACKLOG / VIPPS_RATE, 1),
        }
    }
    goals = {
        f"backlog drains at <= {VIPPS_RATE} calls in every second, all linked, one call each": (
            linked == BACKLOG
            and len(calls) == BACKLOG
            and max(per_second.values(), default=0) <= VIPPS_RATE
        ),
    }
    return results, goals


def worker_command() -> list[str]:
    return celery_worker_command("bench-backlog", pool="threads", concurrency=16)

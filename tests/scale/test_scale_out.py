"""The portal scaled out as a bank's platform runs it (make scale-test; CI runs it): three web
replicas behind HAProxy, workers on RabbitMQ, beat, one PostgreSQL, one Redis.

Each check reads outcomes from outside (HTTP answers, the replicas' access logs, the Vipps
sandbox's records, the database) and prints its figures; var/scale/ keeps them for the README.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.models import ProvisioningAttempt
from tests.benchmarks.load import csrf_cookie, percentile, press_together
from tests.faults.stack import cardholders_with_a_card, wait_until
from tests.scale.stack import SteadyLoad, record_scale_figures

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.rabbitmq]

PRESS = "/cards/{card}/provision/"


def _connections_by_replica() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE 'scale-web%%' GROUP BY 1"
        )
        return dict(cursor.fetchall())


def test_three_replicas_behind_the_proxy_behave_as_one_portal(make_scale_stack, vipps_sandbox):
    from tests.factories import CardFactory

    stack = make_scale_stack(replicas=3, PROVISIONING_RATE_LIMIT="3")
    stack.start_redis()
    stack.start_web()
    stack.start_worker("worker1")
    stack.start_worker("worker2")
    stack.start_beat()

    # A session made on one replica, its CSRF token from a second, the press on a third.
    (holder, card), *_ = cardholders_with_a_card(1)
    browser = stack.browser(holder, card, open_list=False)
    status, headers, _ = stack.direct(0, "GET", "/cards/", browser)
    assert status == 200
    browser = type(browser)(session=browser.session, card=browser.card, csrf=csrf_cookie(headers))
    assert browser.csrf
    status, headers, _ = stack.direct(1, "POST", PRESS.format(card=card.public_id), browser)
    location = dict((k.lower(), v) for k, v in headers).get("location", "")
    assert status in (302, 303) and location, status
    status, _, body = stack.direct(2, "GET", "/cards/", browser)
    assert status == 200 and str(card.public_id) in body.decode()
    calls_before = len(vipps_sandbox.seen)

    # Ten presses at once for one card, spread over the replicas: one attempt, one call.
    (holder, card), *_ = cardholders_with_a_card(1)
    presses = press_together(stack.server, [stack.browser(holder, card) for _ in range(10)], PRESS)
    attempts = ProvisioningAttempt.objects.filter(card=card)
    assert attempts.count() == 1
    assert [p.status for p in presses if p.status not in (302, 303)] == []
    assert len(vipps_sandbox.seen) - calls_before == 1
    posts = stack.served_by_replica(PRESS.format(card=card.public_id))
    assert sum(1 for count in posts.values() if count) >= 2, posts

    # The per-cardholder limit is one count for all replicas: 8 cards pressed at once, 3 pass.
    (holder, _), *_ = cardholders_with_a_card(1)
    cards = CardFactory.create_batch(8, cardholder=holder)
    limited = press_together(stack.server, [stack.browser(holder, c) for c in cards], PRESS)
    assert ProvisioningAttempt.objects.filter(cardholder=holder).count() == 3
    assert len(limited) == 8
    limit_posts = {
        name: sum(stack.log(name).count(PRESS.format(card=c.public_id)) for c in cards)
        for name in (stack.replica_name(i) for i in range(3))
    }
    assert sum(1 for count in limit_posts.values() if count) >= 2, limit_posts

    # Throughput: eight cardholders keep opening their card list through the proxy (c = 8).
    readers = [stack.browser(h, c) for h, c in cardholders_with_a_card(8)]
    peak: dict[str, int] = {}
    sampling = threading.Event()

    def sample_connections() -> None:
        while not sampling.is_set():
            for name, count in _connections_by_replica().items():
                peak[name] = max(peak.get(name, 0), count)
            sampling.wait(0.2)

    sampler = threading.Thread(target=sample_connections, daemon=True)
    sampler.start()
    with SteadyLoad(stack, readers, []) as steady:
        time.sleep(6)
    sampling.set()
    sampler.join(10)
    memory = stack.memory_by_replica()
    lists = [ms for what, status, ms in steady.results if what == "list" and status == 200]
    assert steady.failures() == []
    served = stack.served_by_replica("/cards/")
    assert all(served.values()), served
    per_second = len(lists) / steady.seconds

    # A rolling restart of every replica under that load and a crowd pressing "Add".
    pressers = [stack.browser(h, c) for h, c in cardholders_with_a_card(40)]
    with SteadyLoad(stack, readers, pressers) as rolling:
        restarts = stack.rolling_restart()
        time.sleep(1)
    failed = rolling.failures()
    presses_sent = [r for r in rolling.results if r[0] == "press"]
    assert failed == [], failed[:10]
    assert len(presses_sent) >= 10
    record_scale_figures(
        "replicas",
        replicas=3,
        list_requests_per_second=round(per_second, 1),
        list_requests_per_second_per_replica=round(per_second / 3, 1),
        list_p50_ms=round(percentile(lists, 0.5), 1),
        list_p99_ms=round(percentile(lists, 0.99), 1),
        database_connections_peak_per_replica=peak,
        memory_mib_per_replica=memory,
        ten_presses_one_card_vipps_calls=1,
        rate_limit_passed_of_8=3,
        rolling_restart_requests=len(rolling.results),
        rolling_restart_presses=len(presses_sent),
        rolling_restart_failed=len(failed),
        rolling_restart_seconds_per_replica=[round(s, 1) for s in restarts],
    )


def test_two_overlapping_beats_requeue_each_lost_attempt_once(make_scale_stack, vipps_sandbox):
    stack = make_scale_stack(replicas=1, LOG_LEVEL="INFO", PROVISIONING_SWEEP_SECONDS="0.5")
    stack.start_redis()
    stack.start_worker("worker1")
    stack.start_worker("worker2")
    # Lost attempts (a broker outage took their tasks): the sweeper must queue each once.
    long_ago = timezone.now() - datetime.timedelta(minutes=2)
    lost = [
        ProvisioningAttempt.objects.create(card=card, cardholder=holder)
        for holder, card in cardholders_with_a_card(30)
    ]
    ProvisioningAttempt.objects.filter(pk__in=[a.pk for a in lost]).update(created_at=long_ago)
    # Two schedulers started together, as the old and the new one overlap during a deploy.
    stack.start_beat("beat1", loglevel="INFO")  # its log shows every job it sends
    stack.start_beat("beat2", loglevel="INFO")
    took = wait_until(
        lambda: (
            ProvisioningAttempt.objects.filter(
                pk__in=[a.pk for a in lost], state="link_ready"
            ).count()
            == len(lost)
        ),
        60,
        "every lost attempt has its link",
    )
    time.sleep(3)  # more sweeps from both beats: none may touch a finished attempt again
    calls = [s.request_id for s in vipps_sandbox.seen]
    assert sorted(calls) == sorted(str(a.correlation_id) for a in lost)
    for attempt in lost:
        attempt.refresh_from_db()
        assert attempt.calls.count() == 1 and attempt.tries == 1
    sent = {
        beat: stack.log(beat).count("Sending due task sweep-provisioning-attempts")
        for beat in ("beat1", "beat2")
    }
    assert all(count >= 3 for count in sent.values()), sent
    skipped = sum(
        stack.log(worker).count("periodic job sweep-provisioning-attempts skipped")
        for worker in ("worker1", "worker2")
    )
    record_scale_figures(
        "overlapping_beats",
        lost_attempts=len(lost),
        vipps_calls=len(calls),
        sweeps_sent_by_each_beat=sent,
        sweeps_skipped_by_the_lease=skipped,
        seconds_until_all_linked=round(took, 1),
    )


def test_a_backlog_drains_three_times_as_fast_with_three_workers(make_scale_stack, vipps_sandbox):
    stack = make_scale_stack(replicas=1, VIPPS_RATE_LIMIT_PER_SECOND="0", LOG_LEVEL="INFO")
    vipps_sandbox.latency = 0.25  # each call waits on "Vipps": workers wait, not compute
    stack.start_redis()
    backlog = [
        ProvisioningAttempt.objects.create(card=card, cardholder=holder)
        for holder, card in cardholders_with_a_card(150)
    ]
    stack.publish("provisioning.tasks.provision_card", *([a.pk] for a in backlog))

    def linked() -> int:
        return ProvisioningAttempt.objects.filter(
            pk__in=[a.pk for a in backlog], state="link_ready"
        ).count()

    stack.start_worker("worker1", concurrency=2)
    wait_until(lambda: linked() >= 5, 60, "the first worker is taking tasks")
    start_one, done_one = time.monotonic(), linked()
    time.sleep(6)
    one_rate = (linked() - done_one) / (time.monotonic() - start_one)
    stack.start_worker("worker2", concurrency=2)
    stack.start_worker("worker3", concurrency=2)
    wait_until(lambda: linked() >= done_one + 40, 60, "the new workers are taking tasks")
    start_three, done_three = time.monotonic(), linked()
    wait_until(lambda: linked() == len(backlog), 120, "the backlog is drained")
    three_rate = (linked() - done_three) / (time.monotonic() - start_three)
    calls = [s.request_id for s in vipps_sandbox.seen]
    assert sorted(calls) == sorted(str(a.correlation_id) for a in backlog)
    taken = {name: stack.log(name).count("succeeded") for name in ("worker1", "worker2", "worker3")}
    assert all(taken.values()), taken
    assert three_rate >= 2 * one_rate, (one_rate, three_rate)
    record_scale_figures(
        "workers_scaled",
        backlog=len(backlog),
        vipps_latency_ms=250,
        threads_per_worker=2,
        drained_per_second_one_worker=round(one_rate, 1),
        drained_per_second_three_workers=round(three_rate, 1),
        vipps_calls=len(calls),
        tasks_taken_by_worker=taken,
    )

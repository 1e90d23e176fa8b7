"""Concurrency on the real database, and retries through a real Celery worker on real Redis."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection, connections
from django.test import Client

from provisioning.models import ProvisioningAttempt
from tests.factories import CardFactory, CardholderFactory, UserFactory
from tests.processes import celery_worker_command

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def committed_alice(transactional_db):
    holder = CardholderFactory(user=UserFactory(username="alice"))
    card = CardFactory(cardholder=holder, raw_pan="4111111111111111")
    return holder, card


def _start_worker(vipps_sandbox, settings, **extra: str) -> tuple[str, subprocess.Popen]:
    """A real Celery worker on a queue of its own, on this test's database and sandbox."""
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "VIPPS_SANDBOX_PORT": str(vipps_sandbox.port),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_DEV_SECRETS": "1",
        "LOCAL_STATE_DIR": str(Path(settings.LOCAL_STATE_DIR).resolve()),
        "VIPPS_SANDBOX_DIR": str(Path(settings.VIPPS_SANDBOX_DIR).resolve()),
        **extra,
    }
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    worker = subprocess.Popen(
        celery_worker_command(queue),
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return queue, worker


def _wait_while_requested(attempt: ProvisioningAttempt, seconds: float = 40) -> None:
    """Until a worker has moved the attempt on (or ``seconds`` have passed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        attempt.refresh_from_db()
        if attempt.state != "requested":
            return
        time.sleep(0.2)


def _in_parallel(count: int, work) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.postgres
def test_ten_concurrent_clicks_make_one_attempt_and_one_upstream_call(
    committed_alice, vipps_sandbox
):
    holder, card = committed_alice

    def click():
        client = Client()
        client.force_login(holder.user)
        return client.post(f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT="iPhone")

    responses = _in_parallel(10, click)
    assert ProvisioningAttempt.objects.count() == 1
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "link_ready"
    assert len(vipps_sandbox.seen) == 1 and attempt.calls.count() == 1
    # Every click ends where the one attempt is: the app, or its page.
    for response in responses:
        assert response.status_code in (302, 303)
        assert response["Location"] in (
            attempt.universal_link,
            f"/provisioning/{attempt.public_id}/",
        )


@pytest.mark.redis
@pytest.mark.postgres
def test_503_twice_then_200_through_a_real_worker_on_redis(
    committed_alice, vipps_sandbox, settings, tmp_path
):
    holder, card = committed_alice
    vipps_sandbox.faults.extend(["503", "503"])
    queue, worker = _start_worker(vipps_sandbox, settings, PROVISIONING_RETRY_BASE_SECONDS="0.2")
    from issuer_portal.celery import app

    previous_eager = app.conf.task_always_eager
    previous_route = app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    settings.PROVISIONING_RETRY_BASE_SECONDS = 0.2
    try:
        client = Client()
        client.force_login(holder.user)
        response = client.post(f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT="iPhone")
        attempt = ProvisioningAttempt.objects.get()
        assert response.status_code == 302  # first call failed: to the pending page
        _wait_while_requested(attempt)
    finally:
        app.conf.task_always_eager = previous_eager
        app.conf.task_default_queue = previous_route
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert attempt.state == "link_ready", output
    assert [s.status for s in vipps_sandbox.seen] == [503, 503, 200]
    assert {s.request_id for s in vipps_sandbox.seen} == {str(attempt.correlation_id)}
    assert len({s.trace_id for s in vipps_sandbox.seen}) == 3
    assert attempt.calls.count() == 3


def _token_for(user) -> dict[str, str]:
    from knox.models import AuthToken

    _, token = AuthToken.objects.create(user)
    return {"HTTP_AUTHORIZATION": f"Token {token}"}


@pytest.mark.postgres
def test_ten_concurrent_api_posts_with_one_idempotency_key(committed_alice, vipps_sandbox):
    holder, card = committed_alice
    auth = _token_for(holder.user)
    vipps_sandbox.faults.append("slow:0.5")  # keep the first request running for a while

    def post():
        return Client().post(
            f"/api/v1/cards/{card.public_id}/provisioning/",
            {},
            "application/json",
            HTTP_IDEMPOTENCY_KEY="one-key",
            **auth,
        )

    responses = _in_parallel(10, post)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    # Everyone else arrived while the first was still running.
    assert statuses.count(409) == 9
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "idempotency_request_in_progress"
    }
    assert ProvisioningAttempt.objects.count() == 1
    assert len(vipps_sandbox.seen) == 1
    replay = post()
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"


@pytest.mark.postgres
def test_twenty_concurrent_starts_never_pass_the_rate_limit(
    transactional_db, vipps_sandbox, settings
):
    settings.PROVISIONING_RATE_LIMIT = 5
    holder = CardholderFactory(user=UserFactory(username="busy"))
    cards = [CardFactory(cardholder=holder) for _ in range(20)]
    auth = _token_for(holder.user)
    queue = list(cards)
    lock = threading.Lock()

    def post():
        with lock:
            card = queue.pop()
        return Client().post(
            f"/api/v1/cards/{card.public_id}/provisioning/", {}, "application/json", **auth
        )

    responses = _in_parallel(20, post)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 5 and statuses.count(429) == 15, statuses
    assert ProvisioningAttempt.objects.count() == 5


@pytest.mark.postgres
def test_at_the_limit_a_press_waits_for_the_uncommitted_attempt_of_its_card(
    committed_alice, settings
):
    """A double click at the limit is answered with the attempt of the press before it, even
    while that press has not committed: it queues on the cardholder's count. (Counted before the
    insert, it found no attempt yet and was refused with 429: seen with ten presses at once.)"""
    from django.db import transaction

    from provisioning.starting import start_provisioning

    settings.PROVISIONING_RATE_LIMIT = 1
    holder, card = committed_alice
    written, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def press(name: str, hold: bool) -> None:
        try:
            with transaction.atomic():
                outcomes[name] = start_provisioning(cardholder=holder, card=card, channel="web")
                if hold:
                    written.set()
                    release.wait(10)
        except Exception as error:  # noqa: BLE001 - the outcome is asserted below
            outcomes[name] = error
        finally:
            connections.close_all()

    first = threading.Thread(target=press, args=("first", True))
    first.start()
    assert written.wait(10)
    second = threading.Thread(target=press, args=("second", False))
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting on the first press's count, not refused
    release.set()
    first.join(10)
    second.join(10)
    assert isinstance(outcomes["first"], ProvisioningAttempt), outcomes
    assert outcomes["second"] == outcomes["first"], outcomes
    assert ProvisioningAttempt.objects.count() == 1


@pytest.mark.redis
@pytest.mark.postgres
def test_a_retry_backlog_drains_at_the_vipps_rate_limit(vipps_sandbox, settings, transactional_db):
    """Eight attempts waiting for a retry (as after an outage) go out through a real worker at
    VIPPS_RATE_LIMIT_PER_SECOND=2: never more than the limit in any second as Vipps counts
    arrivals, spread over the seconds that takes, and each attempt called exactly once."""
    attempts = [
        ProvisioningAttempt.objects.create(card=card, cardholder=card.cardholder)
        for card in CardFactory.create_batch(8)
    ]
    queue, worker = _start_worker(vipps_sandbox, settings, VIPPS_RATE_LIMIT_PER_SECOND="2")
    from issuer_portal.celery import app
    from provisioning.tasks import provision_card

    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # to the worker, not run here
    try:
        for attempt in attempts:
            provision_card.apply_async(args=[attempt.pk], queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ProvisioningAttempt.objects.filter(state="link_ready").count() == len(attempts):
                break
            time.sleep(0.2)
    finally:
        app.conf.task_always_eager = previous_eager
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert ProvisioningAttempt.objects.filter(state="link_ready").count() == 8, output
    assert len(vipps_sandbox.seen) == 8
    assert {s.request_id for s in vipps_sandbox.seen} == {str(a.correlation_id) for a in attempts}
    arrivals = sorted(s.received_at for s in vipps_sandbox.seen)
    per_second: dict[int, int] = {}
    for at in arrivals:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    assert max(per_second.values()) <= 2, per_second
    assert arrivals[-1] - arrivals[0] >= 2.0, per_second  # 8 calls at 2 a second: 3 s and more


@pytest.mark.postgres
def test_twelve_cardholders_pressing_at_once_each_get_one_attempt_and_one_call(
    vipps_sandbox, transactional_db
):
    """A crowd on the server's threads: every press gets its link, with one call each."""
    cards = CardFactory.create_batch(12)

    def press(card):
        def work():
            client = Client()
            client.force_login(card.cardholder.user)
            return client.post(f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT="iPhone")

        return work

    presses = iter(cards)
    lock = threading.Lock()

    def next_press():
        with lock:
            card = next(presses)
        return card, press(card)()

    results = _in_parallel(len(cards), next_press)
    assert ProvisioningAttempt.objects.count() == 12
    for card, response in results:
        attempt = ProvisioningAttempt.objects.get(card=card)
        assert response.status_code == 303 and response["Location"] == attempt.universal_link
        assert attempt.calls.count() == 1
    assert len(vipps_sandbox.seen) == 12
    assert len({s.request_id for s in vipps_sandbox.seen}) == 12


@pytest.mark.rabbitmq
@pytest.mark.postgres
def test_retries_through_a_real_worker_on_rabbitmq(vipps_sandbox, settings, transactional_db):
    """CELERY_BROKER_URL on RabbitMQ: the worker takes the task from it, its two retries (with
    countdowns, acks late) go back through it, and the attempt gets its link with three calls."""
    rabbitmq = os.environ["RABBITMQ_URL"]
    card = CardFactory()
    attempt = ProvisioningAttempt.objects.create(card=card, cardholder=card.cardholder)
    vipps_sandbox.faults.extend(["503", "503"])
    queue, worker = _start_worker(
        vipps_sandbox, settings, CELERY_BROKER_URL=rabbitmq, PROVISIONING_RETRY_BASE_SECONDS="0.2"
    )
    from issuer_portal import health
    from issuer_portal.celery import app
    from provisioning.tasks import provision_card

    previous_broker, previous_eager = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url = rabbitmq
    app.conf.task_always_eager = False  # to the worker, not run here
    try:
        assert health.check_broker() == "ok" and health.broker_transport() == "amqp"
        # The kept connection dies (a broker restart): the next round replaces it, still ok.
        dead = health._broker_connections[rabbitmq]
        dead.connection.sock.close()
        assert health.check_broker() == "ok"
        assert health._broker_connections[rabbitmq] is not dead
        # An explicit producer: the app's own pool must stay on the suite's broker.
        with (
            app.connection_for_write(rabbitmq) as connection_to_rabbitmq,
            connection_to_rabbitmq.Producer() as producer,
        ):
            provision_card.apply_async(args=[attempt.pk], queue=queue, producer=producer)
            _wait_while_requested(attempt)
            connection_to_rabbitmq.default_channel.queue_delete(queue)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous_broker, previous_eager
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    broker = urlsplit(rabbitmq)
    assert f"amqp://{broker.username}:**@{broker.hostname}:{broker.port or 5672}" in output, output
    assert attempt.state == "link_ready", output
    assert [s.status for s in vipps_sandbox.seen] == [503, 503, 200]
    assert attempt.calls.count() == 3

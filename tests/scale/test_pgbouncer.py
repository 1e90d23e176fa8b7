"""Behind PgBouncer in transaction mode (README: "Running at scale"): with
DATABASE_DISABLE_SERVER_SIDE_CURSORS=1 the web replica, the worker and beat work through it:
presses, retries, the sweeper's lease and re-queue, and the token-status refresh over every card
(keyset pages, no cursor outliving its transaction)."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys

import pytest
from django.db import connection
from django.utils import timezone

from provisioning.models import ProvisioningAttempt
from tests.benchmarks.load import press_together
from tests.faults.stack import cardholders_with_a_card, wait_until
from tests.processes import BASE_DIR, free_port
from tests.scale.stack import record_scale_figures, start_pgbouncer

pytestmark = [pytest.mark.scale, pytest.mark.postgres, pytest.mark.rabbitmq]


def test_the_portal_works_behind_pgbouncer_in_transaction_mode(
    make_scale_stack, vipps_sandbox, tmp_path
):
    from issuer_portal.cards.models import Card

    database = connection.settings_dict
    port = free_port()
    bouncer = start_pgbouncer(tmp_path / "pgbouncer", port, database["HOST"], database["PORT"])
    try:
        through_bouncer = (
            f"postgres://{database['USER']}@127.0.0.1:{port}/{database['NAME']}"
            "?application_name=fault-suite-portal"
        )
        stack = make_scale_stack(
            replicas=1,
            DATABASE_URL=through_bouncer,
            DATABASE_DISABLE_SERVER_SIDE_CURSORS="1",
            LOG_LEVEL="INFO",
        )
        stack.start_redis()
        stack.start_web()
        stack.start_worker()
        stack.start_beat()

        # Presses: some answered at once, three after retries through the worker.
        vipps_sandbox.faults.extend(["503", "503", "503"])
        pairs = cardholders_with_a_card(12)
        presses = press_together(
            stack.server, [stack.browser(h, c) for h, c in pairs], "/cards/{card}/provision/"
        )
        assert [p.status for p in presses if p.status not in (302, 303)] == []
        pressed = ProvisioningAttempt.objects.filter(card__in=[c for _, c in pairs])
        # Lost attempts: the sweeper (its lease, its conditional re-queue) finds them.
        lost = [
            ProvisioningAttempt.objects.create(card=card, cardholder=holder)
            for holder, card in cardholders_with_a_card(5)
        ]
        ProvisioningAttempt.objects.filter(pk__in=[a.pk for a in lost]).update(
            created_at=timezone.now() - datetime.timedelta(minutes=2)
        )
        every = [a.pk for a in lost] + list(pressed.values_list("pk", flat=True))
        wait_until(
            lambda: (
                ProvisioningAttempt.objects.filter(pk__in=every, state="link_ready").count() == 17
            ),
            60,
            "every attempt has its link",
        )
        # The refresh over every card, as the worker runs it and as the command does.
        stack.publish("tokens.tasks.refresh_all_token_statuses", [])
        cards = Card.objects.count()
        # The duration is not matched: the masking filter may redact a long float as a PAN.
        finished = re.compile(r"refresh_all_token_statuses\[[^]]+\] succeeded in \S+: (\d+)")
        wait_until(
            lambda: finished.search(stack.log("worker")), 60, "the worker's refresh finishes"
        )
        assert int(finished.search(stack.log("worker")).group(1)) == cards  # type: ignore[union-attr]
        refreshed = subprocess.run(
            [sys.executable, "manage.py", "refresh_token_status", "--all", "--json"],
            cwd=BASE_DIR,
            env=stack.env,  # through PgBouncer, as the stack
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refreshed.returncode == 0, refreshed.stderr[-2000:]
        assert len(json.loads(refreshed.stdout)) == cards
        for name in ("web", "worker", "beat"):
            assert "prepared statement" not in stack.log(name), name
            assert "_django_curs" not in stack.log(name), name  # a server-side cursor
    finally:
        bouncer.terminate()
        bouncer.wait(10)
    record_scale_figures(
        "pgbouncer_transaction_mode",
        attempts_linked=17,
        retried_through_the_worker=3,
        cards_refreshed=cards,
        refresh_command_exit=refreshed.returncode,
    )

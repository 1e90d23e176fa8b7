"""Push provisioning end to end against the sandbox: attempts, retries, links, returns, NFC."""

from __future__ import annotations

import datetime
import logging
import re

import pytest
from django.core.cache import cache
from django.utils import timezone

from issuer_portal.core.models import AuditEntry
from provisioning import services
from provisioning.models import AttemptState, ProvisioningAttempt, UpstreamCall
from provisioning.tasks import provision_card
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tests.serving import answer_then_close, close_with_the_database_gone

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36"


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()


@pytest.fixture
def visa(alice):
    return alice.cards.get(last4="1111")


def provision(client, card, *, agent=PHONE, on_commit=None):
    url = f"/cards/{card.public_id}/provision/"
    if on_commit is None:
        return client.post(url, HTTP_USER_AGENT=agent)
    with on_commit(execute=True):
        return client.post(url, HTTP_USER_AGENT=agent)


def test_phone_gets_a_303_straight_to_the_universal_link(client, alice, visa, vipps_sandbox):
    client.force_login(alice.user)
    response = provision(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert response.status_code == 303
    assert response["Location"] == attempt.universal_link
    assert "/sandbox/vipps/app/?t=" in attempt.universal_link
    assert attempt.state == "link_ready" and attempt.channel == "web"
    assert UpstreamCall.objects.get().outcome == "success"


def test_desktop_gets_the_dual_device_page_with_a_qr_code(client, alice, visa, vipps_sandbox):
    client.force_login(alice.user)
    response = provision(client, visa, agent=DESKTOP)
    attempt = ProvisioningAttempt.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/provisioning/{attempt.public_id}/"
    html = client.get(response["Location"], HTTP_USER_AGENT=DESKTOP).content.decode()
    assert "Continue to Vipps" in html and "<svg" in html and "Scan with your phone" in html
    assert attempt.universal_link.replace("&", "&amp;") in html


def test_503_twice_then_200_with_eager_tasks(
    client, alice, visa, vipps_sandbox, django_capture_on_commit_callbacks, settings
):
    from issuer_portal.celery import app

    # Read before the settings change: Celery loads its configuration on first use, and a
    # process whose first use came after it would keep the flag on for every later test.
    saved = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    vipps_sandbox.faults.extend(["503", "503"])
    client.force_login(alice.user)
    try:
        response = provision(client, visa, on_commit=django_capture_on_commit_callbacks)
    finally:
        app.conf.task_always_eager = saved  # not the settings fixture's value: it outlives it
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "link_ready" and attempt.tries == 3
    seen = vipps_sandbox.seen
    assert [s.status for s in seen] == [503, 503, 200]
    assert {s.request_id for s in seen} == {str(attempt.correlation_id)}
    assert len({s.trace_id for s in seen}) == 3
    assert [c.outcome for c in attempt.calls.all()] == ["transient", "transient", "success"]
    assert response.status_code == 302  # to the attempt page, which now has the link


def test_400_is_not_retried_and_says_so(client, alice, visa, vipps_sandbox):
    vipps_sandbox.faults.append("400")
    client.force_login(alice.user)
    response = provision(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "failed" and attempt.error_code == "REQUEST_VALIDATION_ERROR"
    assert len(vipps_sandbox.seen) == 1
    html = client.get(response["Location"]).content.decode()
    assert "The card was not added to Vipps" in html
    assert "Vipps could not accept this card. Please contact the bank." in html
    # Pressing again would send the same: no "Try again", the bank's contact instead.
    assert "Try again" not in html and "Contact Demo Bank ASA" in html


def test_vipps_down_says_later_and_offers_no_immediate_retry(
    client, alice, visa, vipps_sandbox, settings
):
    settings.PROVISIONING_MAX_TRIES = 1
    vipps_sandbox.faults.append("503")
    client.force_login(alice.user)
    response = provision(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "failed", attempt.state
    html = client.get(response["Location"]).content.decode()
    assert "Please try again in a few minutes." in html
    assert "Try again</button>" not in html


def test_an_expired_attempt_offers_try_again(client, alice, visa):
    from provisioning.models import Channel

    attempt = ProvisioningAttempt.objects.create(
        card=visa, cardholder=alice, channel=Channel.WEB, state=AttemptState.EXPIRED
    )
    client.force_login(alice.user)
    html = client.get(f"/provisioning/{attempt.public_id}/").content.decode()
    assert "This took too long and was stopped." in html
    assert "Try again</button>" in html


def test_a_timeout_is_retried(client, alice, visa, vipps_sandbox, settings):
    settings.VIPPS_INTERACTIVE_READ_TIMEOUT = 0.3
    vipps_sandbox.faults.append("slow:1.0")
    client.force_login(alice.user)
    provision(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "requested" and attempt.error_code == "TIMEOUT"
    assert attempt.retry_due_at is not None
    # The queued retry (run here directly) succeeds.
    provision_card.apply(args=[attempt.pk])
    attempt.refresh_from_db()
    assert attempt.state == "link_ready" and attempt.calls.count() == 2


def test_a_link_on_a_foreign_host_redirects_nobody(client, alice, visa, vipps_sandbox):
    vipps_sandbox.faults.append("badhost")
    client.force_login(alice.user)
    response = provision(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "failed" and attempt.error_code == "LINK_NOT_ALLOWED"
    assert attempt.universal_link == ""
    assert "sandbox-evil" not in response.get("Location", "")
    assert "sandbox-evil" not in client.get(response["Location"]).content.decode()


def test_pending_page_polls_refreshes_and_offers_a_fallback(client, alice, visa, vipps_sandbox):
    vipps_sandbox.faults.extend(["503"])
    client.force_login(alice.user)
    response = provision(client, visa)  # on-commit retry not run: the attempt stays pending
    attempt = ProvisioningAttempt.objects.get()
    html = client.get(response["Location"], HTTP_USER_AGENT=PHONE).content.decode()
    assert "Vipps is slow to answer. We keep trying…" in html
    assert f'data-poll-url="/provisioning/{attempt.public_id}/status/"' in html
    assert '<meta http-equiv="refresh"' in html and "js/pending.js" in html
    assert "Open Vipps" in html
    status = client.get(f"/provisioning/{attempt.public_id}/status/").json()
    assert status == {
        "state": "requested",
        "message": "Vipps is slow to answer. We keep trying…",
        "universalLink": None,
    }
    provision_card.apply(args=[attempt.pk])
    assert client.get(f"/provisioning/{attempt.public_id}/status/").json()["state"] == "link_ready"
    ready = client.get(f"/provisioning/{attempt.public_id}/?from=pending", HTTP_USER_AGENT=PHONE)
    assert ready.status_code == 303
    assert ready["Location"] == ProvisioningAttempt.objects.get().universal_link


def test_double_clicks_reuse_the_attempt_with_one_upstream_call(client, alice, visa, vipps_sandbox):
    client.force_login(alice.user)
    first = provision(client, visa)
    second = provision(client, visa)
    assert first["Location"] == second["Location"]
    assert ProvisioningAttempt.objects.count() == 1
    assert len(vipps_sandbox.seen) == 1


@pytest.mark.parametrize(
    ("limit", "next_card", "attempts"),
    [
        (1, 429, 1),  # the second new attempt, not the double click, is refused
        (2, 303, 2),  # the double click (its insert refused) was not counted
    ],
)
def test_a_double_click_is_not_counted_against_the_rate_limit(
    client, alice, visa, vipps_sandbox, settings, limit, next_card, attempts
):
    """The limit is counted in the statement that writes the attempt; a press that finds the
    card's attempt in flight is no new attempt: at the limit it is not refused, below it is not
    counted (the refused insert takes its count back)."""
    settings.PROVISIONING_RATE_LIMIT = limit
    client.force_login(alice.user)
    first = provision(client, visa)
    again = provision(client, visa)
    assert again.status_code == 303 and again["Location"] == first["Location"]
    other = provision(client, alice.cards.exclude(pk=visa.pk).first())
    assert other.status_code == next_card
    assert ProvisioningAttempt.objects.count() == attempts == len(vipps_sandbox.seen)


def test_a_limit_of_zero_starts_no_attempt_but_keeps_the_one_in_flight(
    client, alice, visa, vipps_sandbox, settings
):
    """PROVISIONING_RATE_LIMIT=0 stops new attempts, also for a cardholder never counted; a
    press for a card whose attempt is already in flight still gets that attempt."""
    client.force_login(alice.user)
    settings.PROVISIONING_RATE_LIMIT = 0
    assert provision(client, visa).status_code == 429
    assert not ProvisioningAttempt.objects.exists()
    settings.PROVISIONING_RATE_LIMIT = 5
    first = provision(client, visa)
    assert first.status_code == 303
    settings.PROVISIONING_RATE_LIMIT = 0
    assert provision(client, visa)["Location"] == first["Location"]
    assert ProvisioningAttempt.objects.count() == 1 == len(vipps_sandbox.seen)


def test_an_attempt_in_flight_too_long_makes_way_for_a_new_one(
    client, alice, visa, vipps_sandbox, settings
):
    from provisioning.models import Channel

    old = ProvisioningAttempt.objects.create(
        card=visa, cardholder=alice, channel=Channel.WEB, state=AttemptState.LINK_READY
    )
    ProvisioningAttempt.objects.filter(pk=old.pk).update(
        created_at=timezone.now()
        - datetime.timedelta(seconds=settings.PROVISIONING_MAX_AGE_SECONDS + 1)
    )
    client.force_login(alice.user)
    assert provision(client, visa).status_code == 303
    old.refresh_from_db()
    assert old.state == AttemptState.EXPIRED
    new = ProvisioningAttempt.objects.exclude(pk=old.pk).get()
    assert new.state == AttemptState.LINK_READY and len(vipps_sandbox.seen) == 1


def test_add_takes_no_lock_and_no_look_up_before_its_insert(client, alice, visa, vipps_sandbox):
    """The partial unique index settles double clicks: a new attempt costs its rate count, its
    insert and its audit entry, then the call's record, the link and its audit entry; on
    PostgreSQL each of the two is one statement, its own transaction (no BEGIN or COMMIT round
    trips)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice.user)
    client.get("/cards/")  # the wallet state comes from the cache, as after the card list
    with CaptureQueriesContext(connection) as captured:
        assert provision(client, visa).status_code == 303
    statements = [q["sql"] for q in captured.captured_queries]
    assert not any("FOR UPDATE" in sql for sql in statements), statements
    writes = [sql for sql in statements if sql.split()[0] in ("WITH", "INSERT", "UPDATE")]
    tables = [[table for table in TABLES if f'"{table}"' in sql] for sql in writes]
    if connection.vendor == "postgresql":
        assert [sql.split()[0] for sql in writes] == ["WITH", "WITH"], statements
        assert tables == [
            [
                "provisioning_startsinwindow",
                "provisioning_provisioningattempt",
                "core_auditentry",
            ],
            ["provisioning_upstreamcall", "provisioning_provisioningattempt", "core_auditentry"],
        ]
        assert not {"BEGIN", "COMMIT"} & set(statements), statements
    else:
        assert [sql.split()[0] for sql in writes] == [
            "INSERT",
            "INSERT",
            "INSERT",
            "INSERT",
            "UPDATE",
            "INSERT",
        ], statements
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == AttemptState.LINK_READY and attempt.calls.count() == 1
    assert list(
        AuditEntry.objects.filter(object_id=str(attempt.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["provisioning.initiated", "provisioning.link_issued"]


TABLES = (
    "provisioning_startsinwindow",
    "provisioning_upstreamcall",
    "provisioning_provisioningattempt",
    "core_auditentry",
)


def test_ineligible_and_foreign_cards_make_no_upstream_call(client, alice, bob, vipps_sandbox):
    from tests.factories import CardFactory, CardholderFactory, UserFactory

    young = CardholderFactory(
        user=UserFactory(username="young"),
        born=timezone.localdate().replace(year=timezone.localdate().year - 14),
    )
    young_card = CardFactory(cardholder=young)
    client.force_login(young.user)
    response = provision(client, young_card)
    assert response.status_code == 403
    assert "Cards can be added from the age of 15." in response.content.decode()
    client.force_login(alice.user)
    assert provision(client, bob.cards.get()).status_code == 404
    blocked = alice.cards.get(last4="4444")
    blocked.state = "blocked"
    blocked.save()
    assert provision(client, blocked).status_code == 403
    assert vipps_sandbox.seen == [] and not ProvisioningAttempt.objects.exists()
    assert client.get(f"/provisioning/{young_card.public_id}/").status_code == 404


def test_initiations_are_rate_limited_per_cardholder(client, alice, vipps_sandbox, settings):
    settings.PROVISIONING_RATE_LIMIT = 2
    client.force_login(alice.user)
    for card in alice.cards.all():
        assert provision(client, card).status_code == 303
    ProvisioningAttempt.objects.update(state="failed")
    response = provision(client, alice.cards.first())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Please wait a few minutes." in response.content.decode()


def test_tasks_do_nothing_for_attempts_no_longer_pending(alice, visa, vipps_sandbox):
    attempt = services.start_provisioning(cardholder=alice, card=visa, channel="web")
    services.fail_attempt(attempt, "TEST")
    assert provision_card.apply(args=[attempt.pk]).get() == "nothing to do"
    assert vipps_sandbox.seen == []


def test_retries_stop_after_the_last_try(alice, visa, vipps_sandbox, settings):
    settings.PROVISIONING_MAX_TRIES = 2
    vipps_sandbox.faults.extend(["503", "503", "503"])
    attempt = services.start_provisioning(cardholder=alice, card=visa, channel="web")
    services.provision_now_or_later(attempt)
    provision_card.apply(args=[attempt.pk])
    attempt.refresh_from_db()
    assert attempt.state == "failed" and attempt.tries == 2
    assert services.user_message(attempt) == (
        "Vipps is not answering right now. Please try again in a few minutes."
    )


def test_sweeper_expires_old_attempts_and_requeues_lost_ones(alice, bob, vipps_sandbox):
    old = services.start_provisioning(cardholder=alice, card=alice.cards.first(), channel="web")
    ProvisioningAttempt.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=11)
    )
    lost = services.start_provisioning(cardholder=bob, card=bob.cards.get(), channel="web")
    # Started claimed for its first try, and the claim ran out untried: its caller died.
    assert lost.tries == 1 and lost.claimed_until is not None
    ProvisioningAttempt.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=2),
        claimed_until=timezone.now() - datetime.timedelta(seconds=1),
    )
    counts = services.sweep_attempts()
    assert counts["expired"] == 1 and counts["requeued"] == 1
    old.refresh_from_db()
    assert old.state == "expired"
    assert services.user_message(old) == "This took too long and was stopped. Please try again."


def test_full_journey_add_then_contactless_and_no_card_data_anywhere(
    client, alice, visa, vipps_sandbox, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    pages = []

    def get(url, **extra):
        response = client.get(url, **extra)
        pages.append(response.content.decode())
        return response

    client.force_login(alice.user)
    listing = get("/cards/", HTTP_USER_AGENT=PHONE).content.decode()
    assert f'action="/cards/{visa.public_id}/provision/"' in listing

    added = provision(client, visa, on_commit=django_capture_on_commit_callbacks)
    link = added["Location"]
    assert added.status_code == 303
    app_page = get(link, HTTP_USER_AGENT=PHONE)
    assert "Confirm with 3-D Secure (simulated)" in app_page.content.decode()
    confirmed = client.post(link, HTTP_USER_AGENT=PHONE)
    return_url = confirmed["Location"]
    attempt = ProvisioningAttempt.objects.get()
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:8000/provisioning/{attempt.public_id}/return/\?sig=[\w%-]+",
        return_url,
    )
    # The OS may open the return URL in another browser, without a session.
    from django.test import Client

    other_browser = Client()
    back = other_browser.get(return_url.removeprefix("http://127.0.0.1:8000"))
    pages.append(back.content.decode())
    assert "Your card is now in Vipps" in back.content.decode()
    attempt.refresh_from_db()
    assert attempt.state == "completed" and attempt.returned_at is not None
    tampered = other_browser.get(f"/provisioning/{attempt.public_id}/return/?sig=forged")
    assert tampered.status_code == 404

    listing = get("/cards/", HTTP_USER_AGENT=PHONE).content.decode()
    assert 'class="badge wallet-added">In Vipps' in listing
    nfc = get(f"/cards/{visa.public_id}/nfc/", HTTP_USER_AGENT=PHONE)
    assert nfc.status_code == 303
    nfc_link = nfc["Location"]
    assert "/sandbox/vipps/nfc/?expiry=2030-06&last4=1111&token-reference=DNITHE" in nfc_link
    assert "return-url=http%3A%2F%2F127.0.0.1%3A8000%2Fcards%2F" in nfc_link
    get(nfc_link, HTTP_USER_AGENT=PHONE)
    nfc_back = client.post(nfc_link, HTTP_USER_AGENT=PHONE)["Location"]
    done = get(nfc_back.removeprefix("http://127.0.0.1:8000"))
    assert "Contactless is on in Vipps" in done.content.decode()
    listing = get("/cards/", HTTP_USER_AGENT=PHONE).content.decode()
    assert "In Vipps · contactless" in listing
    assert "Set up contactless on a new phone" in listing
    desktop_nfc = get(f"/cards/{visa.public_id}/nfc/", HTTP_USER_AGENT=DESKTOP).content.decode()
    assert "<svg" in desktop_nfc

    secrets = [PAN_ALICE_VISA, PAN_ALICE_MC, alice.nin.reveal()]
    for secret in secrets:
        assert secret not in caplog.text
        assert not any(secret in page for page in pages)
        for url in (link, return_url, nfc_link, nfc_back):
            assert secret not in url
    from django.apps import apps
    from django.db import connection

    with connection.cursor() as cursor:
        for model in apps.get_models():
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            dump = repr(cursor.fetchall())
            for secret in secrets:
                assert secret not in dump, model._meta.db_table
    from tests.conftest import assert_no_card_data_in_cache

    assert_no_card_data_in_cache(secrets)


def test_visibility_timeout_must_exceed_countdowns_and_time_limits(settings):
    from django.core.exceptions import ImproperlyConfigured

    from issuer_portal.celery import app
    from provisioning.tasks import check_visibility_timeout

    assert app.conf.broker_transport_options["visibility_timeout"] == 3600
    assert app.conf.result_backend_transport_options["visibility_timeout"] == 3600
    check_visibility_timeout()
    settings.CELERY_VISIBILITY_TIMEOUT = 600
    with pytest.raises(ImproperlyConfigured, match="must exceed"):
        check_visibility_timeout()


def test_the_flow_is_translated(client, bob, vipps_sandbox):
    client.force_login(bob.user)
    card = bob.cards.get()
    response = client.post(
        f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT=DESKTOP, HTTP_ACCEPT_LANGUAGE="da"
    )
    html = client.get(
        response["Location"], HTTP_USER_AGENT=DESKTOP, HTTP_ACCEPT_LANGUAGE="da"
    ).content.decode()
    assert "Fortsæt til MobilePay" in html and "Klar: fortsæt i MobilePay." in html


def test_broker_down_at_the_click_still_answers_and_the_sweeper_recovers(
    client, alice, visa, vipps_sandbox, django_capture_on_commit_callbacks
):
    from issuer_portal.celery import app

    vipps_sandbox.faults.append("503")
    client.force_login(alice.user)
    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there

    # Celery keeps its connection pool: dropped, the next publish uses the dead broker. Not
    # app.close(): that also unregisters the app, and a shared task imported later in this
    # process (the API's purge) would then be missing from it.
    try:
        app._pool = None
        response = provision(client, visa, on_commit=django_capture_on_commit_callbacks)
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        app._pool = None
    # The pending page, not an error (how fast it answers is measured in the benchmarks).
    assert response.status_code == 302
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "requested"
    # Later the sweeper finds it waiting past its retry time and queues it again (eager here).
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        retry_due_at=timezone.now() - datetime.timedelta(minutes=5),
        updated_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            counts = services.sweep_attempts()
    finally:
        app.conf.task_always_eager = saved[0]
    assert counts["requeued"] == 1
    attempt.refresh_from_db()
    assert attempt.state == "link_ready" and attempt.calls.count() == 2


def test_nfc_link_only_for_cards_whose_next_action_allows_it(client, alice, bob, visa):
    client.force_login(alice.user)
    response = client.get(f"/cards/{visa.public_id}/nfc/", HTTP_USER_AGENT=PHONE)
    assert response.status_code == 403  # not in the app yet: nothing to enroll
    assert "Contactless cannot be set up for this card." in response.content.decode()
    assert client.get(f"/cards/{bob.cards.get().public_id}/nfc/").status_code == 404
    assert client.get(f"/cards/{visa.public_id}/nfc/return/?sig=forged").status_code == 404


def test_readyz_checks_the_vipps_client_configuration_without_calling_vipps(
    client, settings, tmp_path
):
    import datetime as dt

    from issuer_portal.core.pki import issue, make_ca

    assert client.get("/readyz").json()["checks"]["vipps_client"] == "ok"  # the sandbox's
    settings.VIPPS_SANDBOX = False
    settings.VIPPS_PROVISIONING_URL = "https://vipps.invalid/provisioning"
    settings.VIPPS_CLIENT_CERT = settings.VIPPS_CLIENT_KEY = ""
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["vipps_client"] == "failing"
    ca = make_ca("Vipps MobilePay CA (test)")
    old = issue(ca, "bank", not_before=timezone.now() - dt.timedelta(days=400), days=365)
    settings.VIPPS_CLIENT_CERT, settings.VIPPS_CLIENT_KEY = (
        str(p) for p in old.write(tmp_path, "old")
    )
    assert client.get("/readyz").json()["checks"]["vipps_client"] == "failing"  # expired
    fresh = issue(ca, "bank", days=365)
    settings.VIPPS_CLIENT_CERT, settings.VIPPS_CLIENT_KEY = (
        str(p) for p in fresh.write(tmp_path, "new")
    )
    from provisioning.sandbox.material import sandbox_material

    settings.VIPPS_JWE_PUBLIC_KEY = str(sandbox_material().jwe_public_key)
    settings.VIPPS_JWE_KID = "vipps-1"
    assert client.get("/readyz").json()["checks"]["vipps_client"] == "ok"
    settings.VIPPS_JWE_PUBLIC_KEY = ""
    assert client.get("/readyz").json()["checks"]["vipps_client"] == "failing"  # no JWE key


def test_the_sweeper_counts_an_attempt_lost_after_the_configured_quiet_time(
    alice, visa, settings, django_capture_on_commit_callbacks
):
    attempt = ProvisioningAttempt.objects.create(card=visa, cardholder=alice)  # never queued
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.sweep_attempts()["requeued"] == 0  # quiet for less than 30 s
    settings.PROVISIONING_LOST_AFTER_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.sweep_attempts()["requeued"] == 1
    assert len(queued) == 1
    attempt.refresh_from_db()
    assert attempt.retry_due_at is not None
    settings.PROVISIONING_LOST_AFTER_SECONDS = 30
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.sweep_attempts()["requeued"] == 0  # queued just now: not lost again
    assert queued == []


def test_the_sweeper_hands_on_at_once_an_attempt_whose_claim_outlived_any_call(
    alice, visa, settings, django_capture_on_commit_callbacks
):
    from provisioning.upstream_call import _claim, claim_lease_seconds

    settings.VIPPS_CONNECT_TIMEOUT, settings.VIPPS_READ_TIMEOUT = 2.0, 8.0
    settings.PROVISIONING_CLAIM_MARGIN_SECONDS = 5.0
    assert claim_lease_seconds() == 15.0
    attempt = ProvisioningAttempt.objects.create(card=visa, cardholder=alice)
    assert _claim(attempt.pk) and not _claim(attempt.pk)  # held: nobody else calls
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.sweep_attempts()["requeued"] == 0  # the holder may still be calling
    # The claim's time is up (its worker was killed mid-call): handed on at the next sweep,
    # however young the attempt, and only once.
    ProvisioningAttempt.objects.filter(pk=attempt.pk).update(
        claimed_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert services.sweep_attempts()["requeued"] == 1
        assert services.sweep_attempts()["requeued"] == 0
    assert len(queued) == 1
    attempt.refresh_from_db()
    assert attempt.claimed_until is None and attempt.state == "requested"
    assert _claim(attempt.pk)  # the next worker can take it


def test_a_new_attempt_is_claimed_for_its_first_try_so_no_worker_calls_meanwhile(
    alice, visa, vipps_sandbox
):
    attempt = services.start_provisioning(cardholder=alice, card=visa, channel="web")
    # A worker (a duplicate task, the sweeper's requeue) finds it claimed and leaves it.
    assert services.try_upstream_call(attempt.pk) == services.TryOutcome.NOT_CLAIMED
    assert vipps_sandbox.seen == []
    services.provision_now_or_later(attempt)
    attempt.refresh_from_db()
    assert attempt.state == "link_ready" and attempt.tries == 1 and attempt.claimed_until is None
    assert len(vipps_sandbox.seen) == 1 and attempt.calls.count() == 1


def _answer_then_close(client, card):
    """POST "Add" from a phone, as the server serves it. Returns (answer, close)."""
    from django.test import RequestFactory

    request = RequestFactory().post(f"/cards/{card.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    return answer_then_close(client, request)


def test_a_phones_link_is_recorded_once_the_answer_has_gone(client, alice, visa, vipps_sandbox):
    """The phone's redirect to the app is the answer; the call, the link and its audit entry are
    written when the server closes it, after sending, with the request's actor and ids."""
    client.force_login(alice.user)
    answer, close = _answer_then_close(client, visa)
    attempt = ProvisioningAttempt.objects.get()
    assert answer.status_code == 303 and "/sandbox/vipps/app/?t=" in answer["Location"]
    assert attempt.state == "requested" and attempt.universal_link == ""
    assert attempt.claimed_until is not None and not attempt.calls.exists()
    close()
    attempt.refresh_from_db()
    assert attempt.state == "link_ready" and attempt.universal_link == answer["Location"]
    assert attempt.claimed_until is None and attempt.calls.get().outcome == "success"
    issued = AuditEntry.objects.get(action="provisioning.link_issued")
    initiated = AuditEntry.objects.get(action="provisioning.initiated")
    assert issued.actor == alice.user and issued.object_id == str(attempt.public_id)
    assert (issued.request_id, issued.source_ip) == (initiated.request_id, initiated.source_ip)
    assert issued.correlation_id == str(attempt.correlation_id)


def test_a_link_given_out_as_its_card_is_blocked_is_not_issued(
    client, alice, visa, vipps_sandbox, caplog
):
    client.force_login(alice.user)
    answer, close = _answer_then_close(client, visa)
    # The card is blocked while the answer is on its way: its attempt ends, the link is not
    # recorded as issued, and the call that was made is recorded all the same.
    visa.state = "blocked"
    visa.save()
    with caplog.at_level(logging.WARNING, logger="provisioning.upstream_call"):
        close()
    attempt = ProvisioningAttempt.objects.get()
    assert answer.status_code == 303  # the cardholder had the link before the block
    assert attempt.state == "failed" and attempt.universal_link == ""
    assert attempt.calls.count() == 1
    assert not AuditEntry.objects.filter(action="provisioning.link_issued").exists()
    assert "link given out as the attempt was cancelled" in caplog.text


def test_a_link_that_cannot_be_recorded_after_the_answer_is_left_to_the_sweeper(
    client, alice, visa, vipps_sandbox, caplog
):

    client.force_login(alice.user)
    answer, close = _answer_then_close(client, visa)

    with caplog.at_level(logging.ERROR, logger="provisioning.upstream_call"):
        close_with_the_database_gone(close)  # the cardholder has the link: nothing is raised
    assert "link given out, not recorded" in caplog.text
    attempt = ProvisioningAttempt.objects.get()
    # Still claimed: once the claim's time is up, the sweeper hands it on, as after a worker
    # died mid-call (a second call under the same X-Request-ID).
    assert attempt.state == "requested" and attempt.claimed_until is not None
    assert not attempt.calls.exists() and answer.status_code == 303

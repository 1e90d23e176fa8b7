"""The provisioning funnel: exact numbers for known attempts, constant queries, indexes."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.analytics import funnel_report
from provisioning.models import ProvisioningAttempt, ProvisioningOffer, UpstreamCall
from tests.factories import CardFactory, UserFactory

pytestmark = pytest.mark.django_db


def attempt(card, *, channel="web", link=False, returned=False, state=None, error="", days_ago=0):
    now = timezone.now() - datetime.timedelta(days=days_ago)
    made = ProvisioningAttempt.objects.create(
        card=card,
        cardholder=card.cardholder,
        channel=channel,
        state=state or ("link_ready" if link else "requested"),
        error_code=error,
        link_ready_at=now if link else None,
        returned_at=now if returned else None,
    )
    ProvisioningAttempt.objects.filter(pk=made.pk).update(created_at=now)
    return made


def offer(card, channel="web", days_ago=0):
    ProvisioningOffer.objects.create(
        day=timezone.localdate() - datetime.timedelta(days=days_ago),
        card=card,
        channel=channel,
        brand=card.cardholder.wallet_brand.value,
        network=card.network,
    )


@pytest.fixture
def known(alice, bob):
    visa, mastercard = alice.cards.get(last4="1111"), alice.cards.get(last4="4444")
    bobs = bob.cards.get()
    for card in (visa, mastercard):
        offer(card)
    offer(bobs, "app")
    done = attempt(visa, link=True, returned=True, state="completed")
    attempt(mastercard, state="failed", error="REQUEST_VALIDATION_ERROR")
    attempt(bobs, channel="app", link=True)
    attempt(visa, days_ago=40)  # outside the period
    for duration in (10, 20, 30, 40, 100):
        UpstreamCall.objects.create(
            attempt=done, trace_id=uuid.uuid4(), duration_ms=duration, outcome="success"
        )


def test_funnel_numbers_are_exact(known):
    today = timezone.localdate()
    report = funnel_report(start=today - datetime.timedelta(days=13), end=today)
    totals = report.totals
    assert (
        totals.offered,
        totals.started,
        totals.link_issued,
        totals.returned,
        totals.completed,
    ) == (
        3,
        3,
        2,
        1,
        1,
    )
    assert [rate for _, _, rate in totals.stages()] == [None, 100.0, 66.7, 50.0, 100.0]
    assert totals.overall_conversion == 33.3
    vipps, mobilepay = report.by_brand["vipps"], report.by_brand["mobilepay"]
    assert (vipps.offered, vipps.started, vipps.link_issued, vipps.completed) == (2, 2, 1, 1)
    assert (mobilepay.offered, mobilepay.started, mobilepay.link_issued) == (1, 1, 1)
    assert report.by_network["visa"].started == 2 and report.by_network["mastercard"].started == 1
    assert report.by_channel["app"].link_issued == 1 and report.by_channel["web"].started == 2
    assert report.top_errors == [("REQUEST_VALIDATION_ERROR", 1)]
    assert (report.calls, report.latency_median_ms, report.latency_p95_ms) == (5, 30, 100)
    assert report.by_day[today].started == 3 and len(report.by_day) == 14
    only_app = funnel_report(start=today, end=today, channel="app")
    assert (only_app.totals.offered, only_app.totals.started, only_app.calls) == (1, 1, 0)


def _page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:provisioning_funnel"))
    assert response.status_code == 200
    return len(queries)


def test_funnel_page_query_count_does_not_grow_with_attempts(client, known, alice):
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:provisioning_funnel")).content.decode()
    assert '<svg class="funnel-chart" role="img"' in html
    assert 'data-stage="link_issued"' in html and "66.7 %" in html
    assert "median 30.0 ms · p95 100.0 ms" in html
    few = _page_queries(client)
    for index in range(60):
        card = CardFactory(cardholder=alice)
        offer(card, days_ago=index % 5)
        attempt(card, link=index % 2 == 0, days_ago=index % 5)
    assert _page_queries(client) == few


def test_funnel_queries_are_backed_by_indexes():
    def indexed_columns(table: str) -> set[tuple[str, ...]]:
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, table)
        return {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}

    assert ("created_at",) in indexed_columns(ProvisioningAttempt._meta.db_table)
    assert ("state", "created_at") in indexed_columns(ProvisioningAttempt._meta.db_table)
    assert ("started_at", "duration_ms") in indexed_columns(UpstreamCall._meta.db_table)
    assert ("day",) in indexed_columns(ProvisioningOffer._meta.db_table)


def test_support_sees_the_funnel_and_offers_are_recorded_by_the_portal(client, alice):
    from django.contrib.auth.models import Group

    support = UserFactory(username="sue", is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    client.force_login(alice.user)
    client.get("/cards/")
    client.get("/cards/")  # the same day: counted once
    assert ProvisioningOffer.objects.count() == 2
    client.force_login(support)
    assert client.get(reverse("admin:provisioning_funnel")).status_code == 200


def test_the_funnel_counts_pauses_removals_and_bank_suspensions(client, alice):
    from tokens import lifecycle
    from tokens.models import Actor, CardToken
    from tokens.services import wallet_state_for_card
    from tokens.simulator import add_simulated_token

    card = alice.cards.get(last4="1111")
    for name in ("Old Android", "New Android", "Tablet"):
        add_simulated_token(card=card, trid="40010093056", device_name=name)
    wallet_state_for_card(card, use_cache=False)
    phones = {t.device_name: t for t in CardToken.objects.filter(card=card)}
    for device, action, actor in [
        ("Old Android", "suspend", Actor.CARDHOLDER),
        ("New Android", "delete", Actor.CARDHOLDER),
        ("Tablet", "suspend", Actor.BANK_SYSTEM),
    ]:
        lifecycle.request_token_change(
            token=phones[device], action=action, reason="other", actor=actor, try_now=True
        )
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:provisioning_funnel")).content.decode()
    table = html.split('id="funnel-token-changes"')[1].split("</table>")[0]
    assert "Phones paused by cardholders</th><td>1<" in table
    assert "Tokens removed by cardholders</th><td>1<" in table
    assert "Tokens suspended by the bank</th><td>1<" in table
    assert "Tokens deleted by the bank</th><td>0<" in table

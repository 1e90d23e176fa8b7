"""Wallet status in the portal: concurrency, caching, notifications, refresh and commands."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from issuer_portal.cards.models import Card
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tests.factories import CardFactory
from tokens import services
from tokens.models import CardToken, SimulatedToken, TokenNotification
from tokens.services import (
    lookup_tokens,
    notification_signature,
    status_cache_key,
    wallet_state_for_card,
    wallet_states_for_cards,
)
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db

VISA_VIPPS, VISA_IOS, MC_VIPPS = "40010082040", "40010093055", "50169178771"
SECRET = "notification-test-secret"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def ecom_trid(card: Card) -> str:
    return VISA_VIPPS if card.network == "visa" else MC_VIPPS


def test_a_down_token_service_renders_unknown_with_a_retry_hint(client, alice, settings):
    settings.TOKEN_SIMULATOR_FAILURE = "transient"
    client.force_login(alice.user)
    response = client.get("/cards/")
    html = response.content.decode()
    assert response.status_code == 200
    # One notice for the page, a short badge on each card, no action that would fail.
    assert html.count("We could not check Vipps right now") == 1
    assert html.count("Status unavailable") == 2
    assert html.count('href="/cards/">Try again</a>') == 1
    assert "Add to Vipps" not in html
    # Failures are not cached: the next view asks again and recovers.
    settings.TOKEN_SIMULATOR_FAILURE = ""
    assert client.get("/cards/").content.decode().count("Add to Vipps") == 2


def test_slow_simulator_beyond_the_deadline_is_unknown(alice, settings):
    settings.TOKEN_SIMULATOR_LATENCY_MS = 600
    settings.TOKEN_LOOKUP_TIMEOUT = 0.2
    results = lookup_tokens(list(alice.cards.all()))
    # Each service would answer after 600 ms: "unknown" for all means nobody waited that long.
    assert set(results.values()) == {None}


def test_status_is_cached_under_the_card_uuid_and_never_the_pan(alice, settings):
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_VIPPS)
    assert wallet_state_for_card(card).status == "added"
    key = status_cache_key(card)
    assert str(card.public_id) in key and PAN_ALICE_VISA not in key
    assert PAN_ALICE_VISA not in json.dumps(cache.get(key))
    # Within the TTL the simulator is not asked again ...
    SimulatedToken.objects.all().delete()
    assert wallet_state_for_card(card).status == "added"
    # ... until the cache is refreshed or invalidated.
    assert wallet_state_for_card(card, use_cache=False).status == "not_added"


def test_sandbox_changes_invalidate_the_cached_status(alice):
    card = alice.cards.get(last4="1111")
    assert wallet_state_for_card(card).status == "not_added"
    add_simulated_token(card=card, trid=VISA_VIPPS)
    assert wallet_state_for_card(card).status == "added"


def test_our_copy_of_tokens_follows_the_service_and_ignores_other_wallets(alice):
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_VIPPS)
    add_simulated_token(card=card, trid=VISA_IOS, device_name="iPhone 15")
    SimulatedToken.objects.create(
        card=card, token_reference="OTHERWALLET1", trid="40000000001", token_type="device"
    )
    state = wallet_state_for_card(card)
    assert state.status == "added_with_nfc"
    assert set(CardToken.objects.values_list("trid", flat=True)) == {VISA_VIPPS, VISA_IOS}
    ecom = CardToken.objects.get(trid=VISA_VIPPS)
    assert state.ecom_token_reference == ecom.token_reference
    SimulatedToken.objects.filter(trid=VISA_IOS).delete()
    wallet_state_for_card(card, use_cache=False)
    assert list(CardToken.objects.values_list("trid", flat=True)) == [VISA_VIPPS]


def test_card_list_shows_status_words_badges_and_actions(client, alice, bob, settings):
    visa = alice.cards.get(last4="1111")
    mastercard = alice.cards.get(last4="4444")
    add_simulated_token(card=visa, trid=VISA_VIPPS)
    add_simulated_token(card=mastercard, trid=MC_VIPPS, status="suspended")
    client.force_login(alice.user)
    html = client.get("/cards/").content.decode()
    assert 'class="badge wallet-added">In Vipps' in html
    assert "Enable contactless" in html
    assert 'class="badge wallet-suspended">Paused' in html
    assert "Contact the bank to resume it." in html
    add_simulated_token(card=visa, trid=VISA_IOS)
    html = client.get("/cards/").content.decode()
    assert "In Vipps · contactless" in html
    assert "Set up contactless on a new phone" in html
    client.force_login(bob.user)
    assert "Add to MobilePay" in client.get("/cards/").content.decode()


def test_under_15_and_unsupported_cards_say_why(client, db):
    from issuer_portal.core.local_time import today
    from tests.factories import CardholderFactory, UserFactory

    child = CardholderFactory(
        user=UserFactory(username="young"),
        born=today().replace(year=today().year - 12),
    )
    CardFactory(cardholder=child)
    CardFactory(cardholder=child, raw_pan="378282246310005", product="Amex")
    client.force_login(child.user)
    html = client.get("/cards/").content.decode()
    assert "Cards can be added from the age of 15." in html
    assert "Only Visa and Mastercard cards can be added." in html
    assert "Add to Vipps" not in html


# --- notifications -------------------------------------------------------------------------


def _post_event(client, event: dict, *, secret: str = SECRET, timestamp: int | None = None):
    body = json.dumps(event).encode()
    signature = notification_signature(secret, timestamp or int(time.time()), body)
    return client.post(
        "/tokens/notifications/",
        data=body,
        content_type="application/json",
        headers={"X-Notification-Signature": signature},
    )


@pytest.fixture
def added_card(alice, settings):
    settings.TOKEN_NOTIFICATION_SECRET = SECRET
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_VIPPS)
    assert wallet_state_for_card(card).status == "added"
    return card


def _event(card: Card, **fields) -> dict:
    token = CardToken.objects.get(card=card, trid=VISA_VIPPS)
    event = {
        "eventID": str(uuid.uuid4()),
        "eventType": "TOKEN_STATUS_UPDATED",
        "tokenReferenceID": token.token_reference,
        "tokenRequestorID": VISA_VIPPS,
        "tokenStatus": "SUSPENDED",
    }
    event.update(fields)
    return event


def test_a_signed_notification_updates_the_cached_status(client, added_card):
    response = _post_event(client, _event(added_card))
    assert response.status_code == 200 and response.json() == {"outcome": "applied"}
    # Without asking the token service again:
    SimulatedToken.objects.all().delete()
    assert wallet_state_for_card(added_card).status == "suspended"
    assert TokenNotification.objects.get().card == added_card
    response = _post_event(client, _event(added_card, eventType="TOKEN_DELETED", tokenStatus=None))
    assert response.json() == {"outcome": "applied"}
    assert wallet_state_for_card(added_card).status == "not_added"


def test_a_replayed_event_changes_nothing(client, added_card):
    event = _event(added_card)
    assert _post_event(client, event).json() == {"outcome": "applied"}
    CardToken.objects.update(status="active")
    cache.clear()
    assert _post_event(client, event).json() == {"outcome": "duplicate"}
    assert CardToken.objects.get(card=added_card, trid=VISA_VIPPS).status == "active"
    assert TokenNotification.objects.count() == 1


@pytest.mark.parametrize(
    "tamper",
    ["bad_secret", "no_signature", "old_timestamp", "changed_body"],
)
def test_bad_signatures_are_401_and_change_nothing(client, added_card, tamper):
    event = _event(added_card)
    body = json.dumps(event).encode()
    now = int(time.time())
    headers = {"X-Notification-Signature": notification_signature(SECRET, now, body)}
    if tamper == "bad_secret":
        headers = {"X-Notification-Signature": notification_signature("guess", now, body)}
    elif tamper == "no_signature":
        headers = {}
    elif tamper == "old_timestamp":
        headers = {"X-Notification-Signature": notification_signature(SECRET, now - 3600, body)}
    elif tamper == "changed_body":
        body = body.replace(b"SUSPENDED", b"ACTIVE")
    response = client.post(
        "/tokens/notifications/", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 401
    assert response.json()["code"] == "notification_rejected"
    assert not TokenNotification.objects.exists()
    assert CardToken.objects.get(card=added_card, trid=VISA_VIPPS).status == "active"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"eventID": "x", "eventType": "SOMETHING"}).encode(),
        json.dumps(
            {
                "eventID": "x",
                "eventType": "TOKEN_STATUS_UPDATED",
                "tokenReferenceID": "R",
                "tokenRequestorID": "123",
                "tokenStatus": "ACTIVE",
            }
        ).encode(),
    ],
)
def test_malformed_signed_bodies_are_400(client, added_card, body):
    signature = notification_signature(SECRET, int(time.time()), body)
    response = client.post(
        "/tokens/notifications/",
        data=body,
        content_type="application/json",
        headers={"X-Notification-Signature": signature},
    )
    assert response.status_code == 400
    assert not TokenNotification.objects.exists()


def test_unknown_tokens_are_acknowledged_without_side_effects(client, added_card):
    event = _event(added_card, tokenReferenceID="DNITHE-NEVER-SEEN")
    assert _post_event(client, event).json() == {"outcome": "unknown_token"}
    assert not TokenNotification.objects.exists()
    assert wallet_state_for_card(added_card).status == "added"


def test_notifications_are_off_without_a_secret(client, added_card, settings):
    settings.TOKEN_NOTIFICATION_SECRET = ""
    assert _post_event(client, _event(added_card)).status_code == 503


# --- commands and the periodic task ----------------------------------------------------------


def test_refresh_token_status_json(alice, bob):
    add_simulated_token(card=alice.cards.get(last4="1111"), trid=VISA_VIPPS)
    out = io.StringIO()
    call_command("refresh_token_status", "--all", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 3
    by_last4 = {row["last4"]: row for row in rows}
    assert by_last4["1111"] == {
        "card": str(alice.cards.get(last4="1111").public_id),
        "last4": "1111",
        "status": "added",
        "eligible": True,
        "reason": None,
        "next_action": "nfc_enroll",
    }
    assert by_last4["4444"]["next_action"] == "push_provision"
    for secret in (PAN_ALICE_VISA, PAN_ALICE_MC):
        assert secret not in out.getvalue()


def test_refresh_selected_cards_with_progress(alice):
    cards = list(alice.cards.all())
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "refresh_token_status",
        *[str(card.public_id) for card in cards],
        "--per-second",
        "40",
        "--batch-size",
        "1",
        stdout=out,
        stderr=err,
    )
    assert out.getvalue().count("not_added") == 2
    assert "refreshed 2 of 2 cards in" in err.getvalue()
    with pytest.raises(CommandError, match="either --all"):
        call_command("refresh_token_status")
    with pytest.raises(CommandError, match="no card with id"):
        call_command("refresh_token_status", str(uuid.uuid4()))
    with pytest.raises(CommandError, match="--per-second must be positive"):
        call_command("refresh_token_status", "--all", "--per-second", "0")


class _FakeClock:
    """time.monotonic and time.sleep of a refresh, without waiting: records every pause."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("lookup_seconds", [0.0, 0.07])
@pytest.mark.parametrize(("per_second", "batch_size"), [(10, 50), (23, 10), (0.5, 20)])
def test_refresh_keeps_to_the_rate_limit_in_every_second(
    alice, per_second, batch_size, lookup_seconds
):
    """However the limit and the batch size relate, and however long a batch's lookups take,
    no window of one second (sliding, not only calendar seconds) holds more than
    ``per_second`` lookups, and none is wasted: the lookups go out at the limit, not below it
    by more than one batch a second."""
    cards = [CardFactory(cardholder=alice) for _ in range(28)] + list(alice.cards.all())
    clock = _FakeClock()
    started_at: list[float] = []
    batches: list[tuple[float, float, int]] = []  # when a batch's lookups began, ended; how many
    real_lookup = services.wallet_states_for_cards

    def lookup(batch, use_cache):
        started_at.extend([clock.now] * len(batch))
        began = clock.now
        clock.now += lookup_seconds  # the lookups go out somewhere in this time
        batches.append((began, clock.now, len(batch)))
        return real_lookup(batch, use_cache=use_cache)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(services, "wallet_states_for_cards", lookup)
        states = services.iter_refreshed_wallet_states(
            cards=iter(cards),
            batch_size=batch_size,
            per_second=per_second,
            sleep=clock.sleep,
            clock=clock.clock,
        )
        refreshed = list(states)
    assert [state.card for state in refreshed] == cards
    assert started_at[0] == 100.0
    for _, window_start, _ in batches:  # the worst window starts as a batch's lookups end
        in_window = sum(
            size
            for began, ended, size in batches
            if began < window_start + 1 and ended >= window_start
        )
        assert in_window <= max(per_second, 1)
    seconds = started_at[-1] - started_at[0]
    assert (len(cards) - max(per_second, 1)) / per_second <= seconds  # never faster
    # nor needlessly slower
    assert seconds <= (len(cards) / per_second + 1) * (1 + lookup_seconds)


def test_refresh_reads_the_cards_lazily(alice):
    """The refresh pulls cards from the iterator one batch at a time (flat memory): after the
    first batch's states are consumed, the iterator has not been read past that batch."""
    taken = []

    def cards():
        for card in alice.cards.order_by("pk"):
            taken.append(card)
            yield card

    states = services.iter_refreshed_wallet_states(cards=cards(), batch_size=1, per_second=1000)
    next(states)
    assert len(taken) == 1
    assert len(list(states)) == 1


def test_periodic_refresh_task(alice):
    from tokens.tasks import refresh_all_token_statuses

    add_simulated_token(card=alice.cards.get(last4="4444"), trid=MC_VIPPS)
    cache.clear()
    assert refresh_all_token_statuses.apply().get() == 2
    assert cache.get(status_cache_key(alice.cards.get(last4="4444")))


def test_sandbox_tokens_command(alice):
    card = alice.cards.get(last4="4444")
    out = io.StringIO()
    call_command("sandbox_tokens", "add", str(card.public_id), MC_VIPPS, stdout=out)
    call_command(
        "sandbox_tokens", "add", str(card.public_id), "50179270456", "--status", "suspended"
    )
    assert dict(SimulatedToken.objects.values_list("trid", "token_type")) == {
        MC_VIPPS: "card_on_file",
        "50179270456": "device",
    }
    out = io.StringIO()
    call_command("sandbox_tokens", "list", str(card.public_id), stdout=out)
    assert "•••• 4444 50169178771 active card_on_file" in out.getvalue()
    with pytest.raises(CommandError, match="belongs to Visa"):
        call_command("sandbox_tokens", "add", str(card.public_id), VISA_VIPPS)
    with pytest.raises(CommandError, match="not in the registry"):
        call_command("sandbox_tokens", "add", str(card.public_id), "12345678901")
    call_command("sandbox_tokens", "remove", str(card.public_id), MC_VIPPS, stdout=io.StringIO())
    assert list(SimulatedToken.objects.values_list("trid", flat=True)) == ["50179270456"]
    call_command("sandbox_tokens", "remove", str(card.public_id), stdout=io.StringIO())
    assert not SimulatedToken.objects.exists()
    assert wallet_states_for_cards([card])[card.pk].status == "not_added"


def test_the_simulators_own_read_is_part_of_its_latency(alice, settings, monkeypatch):
    """A real token service has no read of our database before its lookups go out; the
    simulator's read of a batch's tokens is counted inside TOKEN_SIMULATOR_LATENCY_MS, not on
    top of it (where it would be charged to the card list)."""
    from tokens.adapters import simulator

    settings.TOKEN_SIMULATOR_LATENCY_MS = 50
    waits: list[float] = []
    monkeypatch.setattr(simulator.time, "sleep", waits.append)
    adapter = simulator.SimulatorAdapter()
    card = alice.cards.get(last4="1111")
    add_simulated_token(card=card, trid=VISA_VIPPS)
    batch = adapter.prepare([card])
    batch.read_seconds = 0.004
    assert [t.trid for t in adapter.tokens_for_card(card, batch)] == [VISA_VIPPS]
    assert waits == [pytest.approx(0.046)]
    batch.read_seconds = 0.08  # a read longer than the latency: no wait at all
    adapter.tokens_for_card(card, batch)
    assert waits == [pytest.approx(0.046)]


def test_one_adapter_serving_both_networks_prepares_one_batch(alice, settings, monkeypatch):
    """The lookups are batched per adapter, not per network: the simulator serving Visa and
    Mastercard reads its tokens once for the page, and each card is asked once."""
    from tokens.adapters import adapter_for_network, simulator

    settings.TOKEN_SIMULATOR_LATENCY_MS = 0
    prepared: list[list[str]] = []
    real_prepare = simulator.SimulatorAdapter.prepare

    def counted(self, cards):
        prepared.append(sorted(card.network for card in cards))
        return real_prepare(self, cards)

    monkeypatch.setattr(simulator.SimulatorAdapter, "prepare", counted)
    assert adapter_for_network("visa") is adapter_for_network("mastercard")
    cards = list(alice.cards.all())
    add_simulated_token(card=alice.cards.get(last4="1111"), trid=VISA_VIPPS)
    found = lookup_tokens(cards)
    assert prepared == [["mastercard", "visa"]]
    assert {pk: [t.trid for t in tokens] for pk, tokens in found.items()} == {
        card.pk: [VISA_VIPPS] if card.last4 == "1111" else [] for card in cards
    }

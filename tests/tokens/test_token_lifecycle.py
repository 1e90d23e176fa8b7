"""Token lifecycle: the adapters' suspend / resume / delete / funding-account update against
local token services over real HTTP and the simulator, and the service that records, calls,
retries and shows each change."""

from __future__ import annotations

import datetime
import json
import logging
import threading

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from issuer_portal.core.domain_errors import DomainError, ErrorCode
from issuer_portal.core.models import AuditEntry
from issuer_portal.core.outbound import reset_pools
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA
from tests.factories import CardFactory
from tests.fakes import FakeServer
from tests.tokens.stand_ins import TokenStore
from tokens import lifecycle
from tokens.adapters.base import TokenServiceError
from tokens.adapters.mdes import MdesAdapter
from tokens.adapters.simulator import SimulatorAdapter
from tokens.adapters.vts import VtsAdapter
from tokens.models import (
    Actor,
    CardToken,
    ChangeReason,
    ChangeState,
    TokenChange,
    TokenStatus,
)
from tokens.services import wallet_state_for_card
from tokens.simulator import add_simulated_token

pytestmark = pytest.mark.django_db

VISA_ECOM, VISA_IOS, VISA_ANDROID = "40010082040", "40010093055", "40010093056"
MC_ECOM, MC_NFC = "50169178771", "50179270456"


@pytest.fixture
def services(settings):
    """A VTS-style and an MDES-style token service, each keeping tokens, over real HTTP."""
    store = TokenStore()
    vts = FakeServer(answer=store.vts).start()
    mdes = FakeServer(answer=store.mdes).start()
    settings.TOKEN_SERVICE_ADAPTERS_BY_NETWORK = {"visa": "vts", "mastercard": "mdes"}
    settings.VTS_BASE_URL, settings.MDES_BASE_URL = vts.url, mdes.url
    settings.TOKEN_SERVICE_READ_TIMEOUT = 1.0
    settings.TOKEN_CHANGE_RETRY_BASE_SECONDS = 0.01
    cache.clear()
    yield store, vts, mdes
    vts.stop()
    mdes.stop()
    reset_pools()


def _visa(holder):
    return holder.cards.get(last4="1111")


def _mastercard(holder):
    return holder.cards.get(last4="4444")


def _synced(card) -> dict[str, CardToken]:
    wallet_state_for_card(card, use_cache=False)
    return {row.token_reference: row for row in CardToken.objects.filter(card=card)}


# --- the adapters ------------------------------------------------------------------------------


def test_mdes_changes_go_ten_references_a_call_with_the_reason_and_who_asked(
    services, alice, caplog
):
    store, _, mdes = services
    references = [f"DAPLMC{n:06d}" for n in range(12)]
    for ref in references:
        store.add(ref, PAN_ALICE_MC, MC_NFC)
    store.tokens[references[0]].status = "suspended"  # already: a success all the same
    caplog.set_level(logging.DEBUG)
    statuses = MdesAdapter().suspend(
        references, reason=ChangeReason.DEVICE_LOST, actor=Actor.CARDHOLDER
    )
    assert set(statuses.values()) == {TokenStatus.SUSPENDED} and len(statuses) == 12
    calls = [r for r in mdes.requests if r.path == "/suspend"]
    assert [len(r.json()["SuspendRequest"]["TokenUniqueReferences"]) for r in calls] == [10, 2]
    assert calls[0].json()["SuspendRequest"]["ReasonCode"] == "L"
    assert calls[0].json()["SuspendRequest"]["AuditInfo"] == {"UserType": "CARDHOLDER"}
    assert MdesAdapter().resume(
        references[:1], reason=ChangeReason.CARDHOLDER_REQUEST, actor=Actor.BANK_STAFF
    ) == {references[0]: TokenStatus.ACTIVE}
    assert PAN_ALICE_MC not in caplog.text


def test_vts_changes_one_reference_a_call_and_already_done_is_success(services, alice, caplog):
    store, vts, _ = services
    store.add("DNITHE000001", PAN_ALICE_VISA, VISA_IOS)
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_ANDROID, status="deleted")
    adapter = VtsAdapter()
    statuses = adapter.delete(
        ["DNITHE000001", "DNITHE000002"], reason=ChangeReason.DEVICE_STOLEN, actor=Actor.BANK_STAFF
    )
    assert statuses == {"DNITHE000001": TokenStatus.DELETED, "DNITHE000002": TokenStatus.DELETED}
    bodies = [r.json() for r in vts.requests]
    assert [b["tokenReferenceID"] for b in bodies] == ["DNITHE000001", "DNITHE000002"]
    assert bodies[0]["operationType"] == "DELETE"
    assert bodies[0]["operationReasonCode"] == "DEVICE_STOLEN"
    assert bodies[0]["requestor"] == "ISSUER_AGENT"


def test_a_funding_account_update_sends_the_new_card_only_in_the_body(services, alice, caplog):
    store, vts, mdes = services
    store.add("DNITHE000001", PAN_ALICE_VISA, VISA_ECOM, kind="ecom")
    store.add("DAPLMC000001", PAN_ALICE_MC, MC_ECOM, kind="ecom")
    new_visa = CardFactory(cardholder=alice, raw_pan="4000056655665556")
    new_mc = CardFactory(cardholder=alice, raw_pan="5105105105105100")
    caplog.set_level(logging.DEBUG)
    for adapter, ref, card in (
        (VtsAdapter(), "DNITHE000001", new_visa),
        (MdesAdapter(), "DAPLMC000001", new_mc),
    ):
        assert adapter.update_funding_account(
            [ref], new_card=card, reason=ChangeReason.CARD_REISSUED, actor=Actor.BANK_SYSTEM
        ) == {ref: TokenStatus.ACTIVE}
    assert store.tokens["DNITHE000001"].pan == "4000056655665556"
    assert store.tokens["DAPLMC000001"].pan == "5105105105105100"
    update = mdes.requests[-1].json()["UpdateAccountRequest"]
    year, month = new_mc.expiry.split("-")
    assert update["NewExpiryDate"] == month + year[2:]
    assert vts.requests[-1].path == "/token/updatePan"
    assert "4000056655665556" not in caplog.text and "5105105105105100" not in caplog.text


def test_change_failures_are_typed_and_carry_no_card_data(services, alice, caplog):
    store, _, _ = services
    store.add("DNITHE000001", PAN_ALICE_VISA, VISA_IOS)
    store.down = True
    with pytest.raises(TokenServiceError) as down:
        VtsAdapter().suspend(["DNITHE000001"], reason=ChangeReason.OTHER, actor=Actor.CARDHOLDER)
    assert down.value.permanent is False
    store.down = False
    with pytest.raises(TokenServiceError) as unknown:
        VtsAdapter().suspend(["DNITHE999999"], reason=ChangeReason.OTHER, actor=Actor.CARDHOLDER)
    assert unknown.value.permanent is True
    assert PAN_ALICE_VISA not in str(down.value) + str(unknown.value) + caplog.text


# --- the simulator: devices, not only TRIDs -----------------------------------------------------


def test_the_simulator_keeps_one_token_per_device_and_changes_them(alice):
    visa = _visa(alice)
    old = add_simulated_token(card=visa, trid=VISA_ANDROID, device_name="Old Android")
    new = add_simulated_token(card=visa, trid=VISA_ANDROID, device_name="New Android")
    again = add_simulated_token(card=visa, trid=VISA_ANDROID, device_name="New Android")
    assert old.pk != new.pk and again.pk == new.pk
    assert old.device_id and old.device_id != new.device_id
    # The same phone holds the cardholder's other cards under the same device id.
    mc_token = add_simulated_token(card=_mastercard(alice), trid=MC_NFC, device_name="old android")
    assert mc_token.device_id == old.device_id
    tokens = SimulatorAdapter().tokens_for_card(visa)
    assert {(t.device_name, t.device_id) for t in tokens} == {
        ("Old Android", old.device_id),
        ("New Android", new.device_id),
    }
    assert SimulatorAdapter().suspend(
        [old.token_reference], reason=ChangeReason.DEVICE_LOST, actor=Actor.CARDHOLDER
    ) == {old.token_reference: TokenStatus.SUSPENDED}
    old.refresh_from_db()
    assert old.status == "suspended" and old.last_reason == "device_lost"


def test_sandbox_tokens_adds_a_second_device_and_lists_as_json(alice, capsys):
    visa = _visa(alice)
    call_command("sandbox_tokens", "add", str(visa.public_id), VISA_IOS, "--device", "iPhone 12")
    call_command("sandbox_tokens", "add", str(visa.public_id), VISA_IOS, "--device", "iPhone 16")
    capsys.readouterr()
    call_command("sandbox_tokens", "list", str(visa.public_id), "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [(t["trid"], t["device"], t["status"]) for t in listed] == [
        (VISA_IOS, "iPhone 12", "active"),
        (VISA_IOS, "iPhone 16", "active"),
    ]
    assert all(len(t["reference_suffix"]) == 6 and t["last_reason"] == "" for t in listed)
    assert PAN_ALICE_VISA not in json.dumps(listed)


# --- the service ---------------------------------------------------------------------------------


def test_a_cardholder_pauses_a_phone_and_every_view_shows_it_at_once(services, alice):
    store, vts, _ = services
    store.add("DNITHE000001", PAN_ALICE_VISA, VISA_ECOM, kind="ecom")
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    visa = _visa(alice)
    phone = _synced(visa)["DNITHE000002"]
    assert lifecycle.allowed_actions(phone, Actor.CARDHOLDER) == ["suspend", "delete"]
    change = lifecycle.request_token_change(
        token=phone,
        action="suspend",
        reason="device_lost",
        actor=Actor.CARDHOLDER,
        user=alice.user,
        try_now=True,
    )
    assert change.state == ChangeState.DONE and change.tries == 1
    phone.refresh_from_db()
    assert (phone.status, phone.changed_by, phone.change_reason) == (
        "suspended",
        "cardholder",
        "device_lost",
    )
    lookups = len([r for r in vts.requests if r.path.endswith("retrieveTokenInfo")])
    state = wallet_state_for_card(visa)  # from the cache the change filled: no lookup
    assert {t.token_reference: t.status for t in state.tokens}["DNITHE000002"] == "suspended"
    assert len([r for r in vts.requests if r.path.endswith("retrieveTokenInfo")]) == lookups
    assert lifecycle.allowed_actions(phone, Actor.CARDHOLDER) == ["resume", "delete"]
    actions = list(
        AuditEntry.objects.filter(object_id=str(change.public_id)).values_list("action", flat=True)
    )
    assert sorted(actions) == ["tokens.change_requested", "tokens.changed"]


def test_the_cardholder_cannot_resume_what_the_bank_suspended(services, alice, staff_user):
    store, vts, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    lifecycle.request_token_change(
        token=phone,
        action="suspend",
        reason="suspected_fraud",
        actor=Actor.BANK_STAFF,
        user=staff_user,
        try_now=True,
    )
    phone.refresh_from_db()
    assert lifecycle.allowed_actions(phone, Actor.CARDHOLDER) == ["delete"]
    calls = len(vts.requests)
    with pytest.raises(DomainError) as refused:
        lifecycle.request_token_change(
            token=phone, action="resume", reason="cardholder_request", actor=Actor.CARDHOLDER
        )
    assert refused.value.code == ErrorCode.CONFLICT
    assert "Contact the bank" in refused.value.message
    assert len(vts.requests) == calls  # refused before any call
    with pytest.raises(DomainError) as bad:
        lifecycle.request_token_change(
            token=phone, action="resume", reason="bored", actor=Actor.BANK_STAFF
        )
    assert bad.value.code == ErrorCode.INVALID


def test_the_same_change_twice_is_one_change_and_already_done_needs_no_call(services, alice):
    store, vts, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    first = lifecycle.request_token_change(
        token=phone, action="suspend", reason="other", actor=Actor.CARDHOLDER, try_now=True
    )
    calls = len(vts.requests)
    phone.refresh_from_db()
    again = lifecycle.request_token_change(
        token=phone, action="suspend", reason="other", actor=Actor.CARDHOLDER, try_now=True
    )
    assert first.state == again.state == ChangeState.DONE
    assert len(vts.requests) == calls


def test_the_service_down_leaves_the_change_pending_then_a_retry_finishes_it(
    services, alice, monkeypatch
):
    store, _, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    store.down = True
    queued = []  # the retry is queued, not run here
    monkeypatch.setattr(
        lifecycle, "queue_change", lambda change, countdown=0.0: queued.append(change.pk)
    )
    change = lifecycle.request_token_change(
        token=phone, action="delete", reason="device_lost", actor=Actor.CARDHOLDER, try_now=True
    )
    assert change.state == ChangeState.PENDING and change.error_code == "TOKEN_SERVICE_UNAVAILABLE"
    assert queued == [change.pk]
    phone.refresh_from_db()
    assert phone.status == "active"  # nothing shown as done that is not
    store.down = False
    assert lifecycle.apply_token_change(change.pk) == lifecycle.ChangeOutcome.DONE
    assert lifecycle.apply_token_change(change.pk) == lifecycle.ChangeOutcome.NOT_CLAIMED
    change.refresh_from_db()
    assert change.state == ChangeState.DONE and change.tries == 2
    assert store.changes == [("DELETE", "DNITHE000002")]  # one successful call, never two


def _queued_suspension(token: CardToken) -> TokenChange:
    """A pending change as a card event leaves it, before its task has run."""
    return TokenChange.objects.create(
        token=token,
        card=token.card,
        token_reference=token.token_reference,
        action="suspend",
        reason="other",
        actor=Actor.BANK_SYSTEM,
    )


def test_the_task_retries_then_fails_the_change_visibly(services, alice, settings):
    from tokens.tasks import apply_token_change

    store, _, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    store.down = True
    settings.TOKEN_CHANGE_MAX_TRIES = 3
    change = _queued_suspension(phone)
    apply_token_change.apply(args=[change.pk])
    change.refresh_from_db()
    assert change.state == ChangeState.FAILED and change.tries == 3
    assert AuditEntry.objects.filter(action="tokens.change_failed").count() == 1


def test_the_sweeper_queues_a_change_whose_task_was_lost(services, alice, eager_tasks):
    store, _, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    change = _queued_suspension(phone)
    assert lifecycle.sweep_token_changes(lost_after=60) == 0  # young: its task may be coming
    # An old change whose retry is queued and not yet due is left to that retry.
    TokenChange.objects.filter(pk=change.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=5),
        retry_due_at=timezone.now() + datetime.timedelta(seconds=30),
    )
    assert lifecycle.sweep_token_changes(lost_after=1) == 0
    TokenChange.objects.filter(pk=change.pk).update(
        retry_due_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert lifecycle.sweep_token_changes(lost_after=0) == 1  # late and lost; eager: made now
    change.refresh_from_db()
    assert change.state == ChangeState.DONE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_token_end_in_one_state_with_one_call_each(services, alice):
    store, _, _ = services
    store.add("DNITHE000002", PAN_ALICE_VISA, VISA_IOS, device_id="D1", device_name="iPhone")
    phone = _synced(_visa(alice))["DNITHE000002"]
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def act(action: str, actor: Actor) -> None:
        from django.db import connection

        start.wait()
        try:
            change = lifecycle.request_token_change(
                token=phone, action=action, reason="other", actor=actor, try_now=True
            )
            outcomes.append(f"{action}:{change.state}")
        except DomainError as refused:
            outcomes.append(f"{action}:{refused.code}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(action, actor))
        for action, actor in [("suspend", Actor.CARDHOLDER), ("delete", Actor.BANK_SYSTEM)] * 3
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phone.refresh_from_db()
    done = TokenChange.objects.filter(state=ChangeState.DONE)
    calls = [c for c in store.changes if c[1] == "DNITHE000002"]
    # Every change that reached the service was made once; the stored status is the last one.
    assert len(calls) == len({c.pk for c in done if c.tries}) >= 1
    assert phone.status == store.tokens["DNITHE000002"].status
    assert not TokenChange.objects.filter(state=ChangeState.PENDING).exists()
    # Each request got the change made, the same change already under way (pending when it
    # answered), or a refusal because another change was under way.
    assert all(o.split(":")[1] in ("done", "pending", "conflict") for o in outcomes), outcomes
    assert any(o.endswith(":done") for o in outcomes)

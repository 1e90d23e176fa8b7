"""Every rule of wallet status, eligibility and next action: pure rules on cards built in
memory against the spec's TRID tables; only the registry's own tests touch the database."""

from __future__ import annotations

import datetime

import pytest

from tests.factories import CardFactory, CardholderFactory
from tokens.adapters.base import NetworkToken
from tokens.models import TokenRequestor, TokenStatus, TokenType
from tokens.services import trid_registry
from tokens.status import Ineligibility, NextAction, TridSet, WalletStatus, card_wallet_state

VISA_VIPPS, VISA_MOBILEPAY, VISA_IOS, VISA_ANDROID = (
    "40010082040",
    "40010081524",
    "40010093055",
    "40010093056",
)
MC_VIPPS_OLD, MC_VIPPS, MC_MOBILEPAY, MC_NFC = (
    "50134871116",
    "50169178771",
    "50100496946",
    "50179270456",
)
TODAY = datetime.date(2026, 11, 21)
# The active TRIDs of the spec's tables (the old Mastercard Vipps TRID is deprecated).
SPEC_TRIDS = TridSet(
    ecom={
        "visa": frozenset({VISA_VIPPS, VISA_MOBILEPAY}),
        "mastercard": frozenset({MC_VIPPS, MC_MOBILEPAY}),
    },
    nfc={"visa": frozenset({VISA_IOS, VISA_ANDROID}), "mastercard": frozenset({MC_NFC})},
)


def token(trid: str, status: str = "active", ref: str | None = None) -> NetworkToken:
    return NetworkToken(
        token_reference=ref or f"REF{trid}{status}",
        trid=trid,
        status=TokenStatus(status),
        token_type=TokenType.CARD_ON_FILE,
    )


@pytest.fixture
def visa():
    return CardFactory.build(raw_pan="4111111111111111", expiry="2030-01")


@pytest.fixture
def mastercard():
    return CardFactory.build(raw_pan="5555555555554444", expiry="2030-01")


def state(card, tokens, today=TODAY, trids=SPEC_TRIDS):
    return card_wallet_state(card, tokens, trids, today)


@pytest.mark.django_db
def test_the_registry_is_seeded_from_the_spec_tables():
    assert trid_registry().active == SPEC_TRIDS
    rows = set(TokenRequestor.objects.values_list("trid", "network", "kind", "status"))
    assert ("50134871116", "mastercard", "ecom", "deprecated") in rows
    assert ("40010093056", "visa", "nfc", "active") in rows
    assert len(rows) == 8


def test_no_tokens_is_not_added_and_offers_push_provisioning(visa):
    result = state(visa, [])
    assert result.status == WalletStatus.NOT_ADDED
    assert result.next_action == NextAction.PUSH_PROVISION and result.eligible


@pytest.mark.parametrize("trid", [VISA_VIPPS, VISA_MOBILEPAY])
def test_an_active_visa_ecom_token_is_added_and_offers_nfc_first(visa, trid):
    result = state(visa, [token(trid, ref="DNITHE0001")])
    assert result.status == WalletStatus.ADDED
    assert result.next_action == NextAction.NFC_ENROLL and not result.action_is_secondary
    assert result.ecom_token_reference == "DNITHE0001"


@pytest.mark.parametrize("nfc", [VISA_IOS, VISA_ANDROID])
def test_ecom_and_nfc_tokens_are_added_with_nfc_and_keep_a_secondary_nfc_action(visa, nfc):
    result = state(visa, [token(VISA_VIPPS), token(nfc)])
    assert result.status == WalletStatus.ADDED_WITH_NFC
    # The NFC token may sit on an old phone: still offered, less prominently.
    assert result.next_action == NextAction.NFC_ENROLL and result.action_is_secondary


def test_an_nfc_token_without_an_ecom_token_is_not_added(visa):
    assert state(visa, [token(VISA_IOS)]).status == WalletStatus.NOT_ADDED


def test_network_trid_sets_do_not_mix(visa, mastercard):
    assert state(visa, [token(MC_VIPPS)]).status == WalletStatus.NOT_ADDED
    assert state(mastercard, [token(VISA_VIPPS)]).status == WalletStatus.NOT_ADDED
    assert state(mastercard, [token(MC_VIPPS)]).status == WalletStatus.ADDED
    assert state(mastercard, [token(MC_MOBILEPAY), token(MC_NFC)]).status == (
        WalletStatus.ADDED_WITH_NFC
    )
    assert state(mastercard, [token(MC_VIPPS), token(VISA_IOS)]).status == WalletStatus.ADDED


@pytest.mark.django_db
def test_deprecated_trids_are_ignored_and_trids_are_data(mastercard):
    def registry_state(tokens):
        return state(mastercard, tokens, trids=trid_registry().active)

    assert registry_state([token(MC_VIPPS_OLD)]).status == WalletStatus.NOT_ADDED
    # Bank staff re-activate it in admin: no code change needed.
    TokenRequestor.objects.filter(trid=MC_VIPPS_OLD).update(status="active")
    assert registry_state([token(MC_VIPPS_OLD)]).status == WalletStatus.ADDED
    TokenRequestor.objects.filter(trid=MC_VIPPS).update(status="deprecated")
    assert registry_state([token(MC_VIPPS)]).status == WalletStatus.NOT_ADDED


def test_only_suspended_ecom_tokens_is_suspended_with_nothing_offered(visa):
    result = state(visa, [token(VISA_VIPPS, "suspended"), token(VISA_IOS)])
    assert result.status == WalletStatus.SUSPENDED and result.next_action is None
    assert state(visa, [token(VISA_VIPPS, "suspended"), token(VISA_MOBILEPAY)]).status == (
        WalletStatus.ADDED
    )


@pytest.mark.parametrize("status", ["inactive", "deleted"])
def test_inactive_and_deleted_tokens_do_not_count(visa, status):
    result = state(visa, [token(VISA_VIPPS, status), token(VISA_IOS, status)])
    assert result.status == WalletStatus.NOT_ADDED
    assert state(visa, [token(VISA_VIPPS), token(VISA_IOS, status)]).status == WalletStatus.ADDED


def test_service_failure_is_unknown_and_offers_nothing(visa):
    result = state(visa, None)
    assert result.status == WalletStatus.UNKNOWN and result.next_action is None
    assert result.eligible


def test_blocked_card(visa):
    visa.state = "blocked"
    result = state(visa, [])
    assert result.reason == Ineligibility.BLOCKED and result.next_action is None
    assert result.reason_text == "This card is blocked."


def test_expired_card_is_valid_through_its_expiry_month(visa):
    visa.expiry = "2026-11"
    assert state(visa, [], today=datetime.date(2026, 11, 30)).eligible
    result = state(visa, [], today=datetime.date(2026, 12, 1))
    assert result.reason == Ineligibility.EXPIRED and result.next_action is None
    # An expired card that is in the app is shown as such, but offered nothing.
    assert state(visa, [token(VISA_VIPPS)], today=datetime.date(2026, 12, 1)).next_action is None


def test_unsupported_network():
    amex = CardFactory.build(raw_pan="378282246310005")
    result = state(amex, [])
    assert result.reason == Ineligibility.NETWORK
    assert result.reason_text == "Only Visa and Mastercard cards can be added."


@pytest.mark.parametrize(
    ("today", "eligible"),
    [
        (datetime.date(2026, 6, 11), False),  # the day before the 15th birthday
        (datetime.date(2026, 6, 12), True),  # the 15th birthday
    ],
)
def test_age_rule_around_the_15th_birthday(today, eligible):
    teen = CardholderFactory.build(born=datetime.date(2011, 6, 12))
    card = CardFactory.build(cardholder=teen)
    result = state(card, [], today=today)
    assert result.eligible is eligible
    assert result.next_action == (NextAction.PUSH_PROVISION if eligible else None)
    if not eligible:
        assert result.reason == Ineligibility.TOO_YOUNG
        assert result.reason_text == "Cards can be added from the age of 15."


def test_leap_day_birthdays():
    holder = CardholderFactory.build(born=datetime.date(2008, 2, 29))
    assert holder.age_on(datetime.date(2023, 2, 28)) == 14
    assert holder.age_on(datetime.date(2023, 3, 1)) == 15

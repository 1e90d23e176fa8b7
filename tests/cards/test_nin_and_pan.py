"""Validation of national identity numbers (per country) and card numbers."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from issuer_portal.cards.nin import birth_date_from_nin, masked_nin, normalize_nin
from issuer_portal.cards.pan import (
    expiry_last_day,
    network_for_pan,
    normalize_expiry,
    normalize_pan,
)
from tests.factories import danish_nin, finnish_nin, norwegian_nin, swedish_nin

VALID = [
    ("NO", "15038510190", datetime.date(1985, 3, 15)),
    ("NO", "12061450015", datetime.date(2014, 6, 12)),
    ("DK", "0101901234", datetime.date(1990, 1, 1)),
    ("FI", "131052-308T", datetime.date(1952, 10, 13)),
    ("FI", "220488-1233", datetime.date(1988, 4, 22)),
    ("SE", "811218-9876", datetime.date(1981, 12, 18)),
    ("SE", "19811218-9876", datetime.date(1981, 12, 18)),
]


@pytest.mark.parametrize(("country", "number", "born"), VALID)
def test_valid_numbers_normalise_and_carry_their_birth_date(country, number, born):
    normalized = normalize_nin(country, number)
    assert birth_date_from_nin(country, normalized) == born


def test_swedish_numbers_are_stored_with_the_century():
    assert normalize_nin("SE", "811218-9876") == "198112189876"
    assert normalize_nin("SE", "198112189876") == "198112189876"


@pytest.mark.parametrize(
    ("country", "number", "code"),
    [
        ("NO", "15038510191", "nin_checksum"),  # last check digit off by one
        ("NO", "15038510180", "nin_checksum"),
        ("NO", "32038510190", "nin_format"),  # no 32nd of March (stdnum calls it a format error)
        ("FI", "131052-308U", "nin_checksum"),
        ("FI", "310252-308Y", "nin_date"),  # 31 February
        ("SE", "811218-9877", "nin_checksum"),
        ("SE", "811318-9876", "nin_format"),  # month 13
        ("DK", "3102901234", "nin_format"),  # 31 February
        ("DK", "12345", "nin_format"),
        ("NO", "abc", "nin_format"),
    ],
)
def test_invalid_numbers_are_rejected_without_echoing_them(country, number, code):
    with pytest.raises(ValidationError) as caught:
        normalize_nin(country, number)
    assert caught.value.code in {code, "nin_date", "nin_format", "nin_checksum"}
    if code == "nin_checksum":
        assert caught.value.code == "nin_checksum"
    assert number not in " ".join(caught.value.messages)


def test_danish_numbers_have_no_mandatory_checksum_since_2007_but_a_real_date():
    # CPR numbers issued since 2007 need not satisfy modulus 11; the date is what can be checked.
    assert normalize_nin("DK", "0101901235") == "0101901235"
    with pytest.raises(ValidationError):
        normalize_nin("DK", "0013901234")


def test_a_birth_date_in_the_future_is_rejected():
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError):
        normalize_nin("NO", norwegian_nin(tomorrow))


@pytest.mark.parametrize(
    ("country", "make"),
    [("NO", norwegian_nin), ("DK", danish_nin), ("FI", finnish_nin), ("SE", swedish_nin)],
)
def test_generated_test_numbers_are_valid(country, make):
    born = datetime.date(2011, 11, 21)
    assert birth_date_from_nin(country, normalize_nin(country, make(born))) == born


@pytest.mark.parametrize(
    ("country", "number", "masked"),
    [
        ("NO", "15038510190", "150385 •••••"),
        ("DK", "0101901234", "010190-••••"),
        ("FI", "131052-308T", "131052-••••"),
        ("SE", "198112189876", "19811218-••••"),
    ],
)
def test_masks_hide_the_personal_part(country, number, masked):
    assert masked_nin(country, number) == masked


@pytest.mark.parametrize(
    ("pan", "network"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),  # 13 digits
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),  # 2-series
        ("2720990000000007", "mastercard"),
        ("378282246310005", "other"),  # Amex: stored, not supported
        ("6011111111111117", "other"),
    ],
)
def test_network_from_iin(pan, network):
    assert network_for_pan(normalize_pan(pan)) == network


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4111111111111112", "pan_checksum"),
        ("411111111111", "pan_length"),
        ("41111111111111111111", "pan_length"),
        ("4111-1111-1111-111x", "pan_format"),
        ("", "pan_format"),
    ],
)
def test_bad_card_numbers(raw, code):
    with pytest.raises(ValidationError) as caught:
        normalize_pan(raw)
    assert caught.value.code == code
    assert not raw or raw not in " ".join(caught.value.messages)


def test_card_numbers_accept_spaces_and_dashes():
    assert normalize_pan("4111 1111-1111 1111") == "4111111111111111"


def test_expiry_format_and_last_valid_day():
    assert normalize_expiry(" 2028-02 ") == "2028-02"
    assert expiry_last_day("2028-02") == datetime.date(2028, 2, 29)
    for bad in ("2028-13", "28-02", "2028/02", "02/28", ""):
        with pytest.raises(ValidationError):
            normalize_expiry(bad)

"""The card-management CSV feed: idempotent, updates, per-row errors, never echoes card data."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from issuer_portal.cards.models import Card, Cardholder
from tests.conftest import raw_rows

pytestmark = pytest.mark.django_db

HEADER = "username,full_name,country,nin,pan,expiry,product,nickname"
GOOD = [
    "kari,Kari Nordmann,NO,15038510190,4111111111111111,2029-08,Visa Debit,Everyday",
    "kari,Kari Nordmann,NO,15038510190,5555555555554444,2030-01,Mastercard Gold,",
    "mette,Mette Hansen,DK,0101901234,4242424242424242,2028-12,Visa Classic,Budget",
]


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cards.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def _run(path: Path, capsys) -> tuple[str, str, bool]:
    failed = False
    try:
        call_command("import_cards", str(path))
    except CommandError as error:
        failed = True
        print(error)
    captured = capsys.readouterr()
    return captured.out, captured.err, failed


def test_import_creates_cardholders_and_cards(tmp_path, capsys):
    out, err, failed = _run(_write(tmp_path, *GOOD), capsys)
    assert not failed and err == ""
    assert "3 rows imported (3 cards created" in out
    kari = Cardholder.objects.get(user__username="kari")
    assert kari.country == "NO" and kari.wallet_brand == "vipps"
    assert sorted(kari.cards.values_list("last4", flat=True)) == ["1111", "4444"]
    assert Cardholder.objects.get(user__username="mette").wallet_brand == "mobilepay"
    # Imported users cannot sign in with a password: the bank's identity provider signs them in.
    assert not get_user_model().objects.get(username="kari").has_usable_password()


def test_reimporting_the_same_file_changes_nothing(tmp_path, capsys):
    path = _write(tmp_path, *GOOD)
    _run(path, capsys)
    before = (raw_rows(Card), raw_rows(Cardholder))
    out, _, failed = _run(path, capsys)
    assert not failed
    assert "0 cards created, 0 updated, 3 unchanged" in out
    # Not even re-encrypted: every column, ciphertext and updated_at included, is as it was.
    assert (raw_rows(Card), raw_rows(Cardholder)) == before


def test_a_changed_row_updates_the_card(tmp_path, capsys):
    _run(_write(tmp_path, *GOOD), capsys)
    changed = GOOD[0].replace("2029-08,Visa Debit,Everyday", "2031-02,Visa Platinum,Daily")
    out, _, failed = _run(_write(tmp_path, changed, *GOOD[1:]), capsys)
    assert not failed and "1 updated" in out
    card = Card.objects.get(last4="1111")
    assert (card.expiry, card.product, card.nickname) == ("2031-02", "Visa Platinum", "Daily")
    assert Card.objects.count() == 3


def test_bad_rows_are_reported_by_line_and_good_rows_still_load(tmp_path, capsys):
    bad_pan = "4111111111111112"
    bad_nin = "15038510191"
    lines = [
        GOOD[0],
        f"ola,Ola Nordmann,NO,03047220032,{bad_pan},2029-10,Visa Debit,",  # line 3
        f"per,Per Hansen,NO,{bad_nin},4012888888881881,2029-10,Visa Debit,",  # line 4
        "sven,Sven Svensson,XX,199003151231,4917610000000000,2029-09,Visa,",  # line 5
        "emma,Emma N,NO,12061450015,4000056655665556,12/29,Visa Youth,",  # line 6
        "only,three,columns",  # line 7
        "kari2,Kari Other,NO,15038510190,5105105105105100,2029-11,MC,",  # line 8: NIN taken
        "mette,Mette Hansen,DK,0101901234,4111111111111111,2030-01,MC,",  # line 9: PAN taken
        GOOD[2],  # line 10
    ]
    out, err, failed = _run(_write(tmp_path, *lines), capsys)
    assert failed
    assert "2 rows imported" in out and "7 rows failed" in out
    assert "line 3: The card number is not valid (check digit mismatch)." in err
    assert "line 4: The national identity number is not valid (check digit mismatch)." in err
    assert "line 5: country must be one of" in err
    assert "line 6: The expiry must be written as YYYY-MM" in err
    assert "line 7: expected 8 columns" in err
    assert "line 8: national identity number already belongs to another cardholder" in err
    assert "line 9: card number already belongs to another cardholder" in err
    for secret in (bad_pan, bad_nin, "4012888888881881", "15038510190", "5555555555554444"):
        assert secret not in out + err
    assert Card.objects.count() == 2
    assert not get_user_model().objects.filter(username__in=["ola", "per", "kari2"]).exists()


def test_wrong_header_rejects_the_whole_file(tmp_path, capsys):
    path = tmp_path / "cards.csv"
    path.write_text("user,pan\nkari,4111111111111111\n")
    with pytest.raises(CommandError, match="header must be"):
        call_command("import_cards", str(path))
    assert Card.objects.count() == 0


def test_unknown_card_networks_are_stored_but_marked_unsupported(tmp_path, capsys):
    _run(_write(tmp_path, "ola,Ola,NO,03047220032,378282246310005,2029-10,Amex Gold,"), capsys)
    card = Card.objects.get()
    assert card.network == "other" and not card.network_supported


def test_a_staff_username_is_never_turned_into_a_cardholder(tmp_path, capsys, staff_user):
    row = f"{staff_user.username},Op,NO,03047220032,4111111111111111,2029-10,Visa,"
    _, err, failed = _run(_write(tmp_path, row), capsys)
    assert failed and "staff account" in err


def test_seed_demo_is_idempotent_and_covers_the_demo_cases(capsys, settings):
    settings.DEBUG = True
    for _ in range(2):
        call_command("seed_demo")
        call_command("seed_demo_tokens")
    assert Card.objects.count() == 10
    from tokens.models import SimulatedToken

    # mette's Visa is on an old and a new iPhone: two tokens under one TRID.
    assert SimulatedToken.objects.count() == 5
    assert SimulatedToken.objects.filter(device_name="Old iPhone").count() == 1
    assert Card.objects.filter(state="blocked").count() == 1
    assert any(card.is_expired() for card in Card.objects.all())
    assert {h.wallet_brand for h in Cardholder.objects.all()} == {"vipps", "mobilepay"}
    emma = Cardholder.objects.get(user__username="emma")
    from issuer_portal.core.local_time import today

    assert emma.age_on(today()) < 15

"""Card data at rest: encrypted columns, keyed hashes, masked values, key rotation."""

from __future__ import annotations

import hashlib
import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings

from issuer_portal.cards.models import Card, Cardholder
from issuer_portal.core import crypto
from issuer_portal.core.sensitive import SensitiveValue
from tests.conftest import PAN_ALICE_MC, PAN_ALICE_VISA, PAN_BOB, card_data_of, raw_rows

pytestmark = pytest.mark.django_db


def test_raw_card_and_cardholder_rows_contain_no_pan_or_nin(alice, bob):
    secrets = card_data_of(alice, bob)
    assert PAN_ALICE_VISA in secrets and PAN_BOB in secrets
    for model in (Card, Cardholder):
        for row in raw_rows(model):
            for column in row:
                text = str(column)
                for secret in secrets:
                    assert secret not in text
                    # Not a plain hash either: a PAN's SHA-256 is brute-forceable.
                    assert hashlib.sha256(secret.encode()).hexdigest() not in text


def test_model_hands_out_masked_values(alice):
    card = Card.objects.get(pan_hmac=Card.pan_lookup_hash(PAN_ALICE_VISA))
    assert isinstance(card.pan, SensitiveValue)
    assert card.pan.reveal() == PAN_ALICE_VISA
    assert PAN_ALICE_VISA not in f"{card.pan} {card.pan!r} {card} {card.__dict__}"
    assert card.last4 == "1111" and card.network == "visa"
    holder = Cardholder.objects.get(pk=alice.pk)
    assert holder.nin.reveal() not in f"{holder.nin} {holder} {holder.__dict__}"


def test_encrypted_fields_refuse_lookups(alice):
    with pytest.raises(TypeError, match="keyed hash"):
        Card.objects.filter(pan=PAN_ALICE_VISA).exists()


def test_sensitive_value_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(SensitiveValue(PAN_ALICE_VISA))


def test_duplicate_detection_uses_keyed_hash(alice):
    assert Card.pan_lookup_hash(PAN_ALICE_MC) == Card.objects.get(last4="4444").pan_hmac
    with override_settings(FIELD_HMAC_KEY="another key"):
        assert Card.pan_lookup_hash(PAN_ALICE_MC) != Card.objects.get(last4="4444").pan_hmac


def test_key_rotation_old_rows_decrypt_and_reencrypt_moves_them_to_the_new_key(
    alice, bob, settings
):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    secrets_before = sorted(card_data_of(alice, bob))

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    # Rows written with the old key still decrypt.
    assert sorted(card_data_of(*Cardholder.objects.all())) == secrets_before
    assert not any(crypto.is_encrypted_with_current_key(t) for t in _ciphertexts())

    call_command("reencrypt_fields", stdout=io.StringIO())

    assert all(crypto.is_encrypted_with_current_key(t) for t in _ciphertexts())
    # The old key can go now.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert sorted(card_data_of(*Cardholder.objects.all())) == secrets_before
    assert Card.objects.filter(pan_hmac=Card.pan_lookup_hash(PAN_BOB)).exists()


def _ciphertexts() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pan FROM cards_card")
        cards = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT nin FROM cards_cardholder")
        holders = [row[0] for row in cursor.fetchall()]
    return cards + holders


def test_dropping_a_key_too_early_fails_without_revealing_anything(alice, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError) as caught:
        list(Card.objects.all())
    assert PAN_ALICE_VISA not in str(caught.value)


def test_a_card_of_the_signed_in_user_comes_with_its_cardholder_as_the_orm_reads_them(alice, bob):
    """card_of_user writes its query once instead of compiling it each time: what it reads is
    what select_related would (every field, decrypted and converted), and only for the owner."""
    import uuid

    from django.contrib.auth.models import AnonymousUser

    from issuer_portal.cards.selectors import card_of_user
    from issuer_portal.core.domain_errors import DomainError

    for card in alice.cards.all():
        read = card_of_user(alice.user, card.public_id)
        expected = Card.objects.select_related("cardholder").get(pk=card.pk)
        assert values(read) == values(expected)
        assert values(read.cardholder) == values(expected.cardholder)
        assert read.cardholder.nin.reveal() == alice.nin.reveal()
        assert not read._state.adding and not read.cardholder._state.adding
        assert read.cardholder.user_id == alice.user.pk
    for user, card_id in (
        (bob.user, alice.cards.first().public_id),  # someone else's card
        (alice.user, uuid.uuid4()),  # no such card
        (AnonymousUser(), alice.cards.first().public_id),
    ):
        with pytest.raises(DomainError):
            card_of_user(user, card_id)


def values(obj) -> dict:
    """Every field's value, sensitive ones revealed, to compare two reads of a row."""
    return {
        f.attname: getattr(obj, f.attname).reveal()
        if isinstance(getattr(obj, f.attname), SensitiveValue)
        else getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
    }


def test_the_card_list_reads_the_cardholder_with_their_cards_as_the_orm_reads_them(
    alice, bob, charlie, staff_user
):
    """cardholder_with_cards reads in one query what the ORM reads in two (the cardholder, then
    their cards): every field decrypted and converted, cards oldest first,
    one cardholder object shared by the cards; nothing for staff, anonymous users or a
    cardholder without cards but themselves."""
    from django.contrib.auth.models import AnonymousUser

    from issuer_portal.cards.selectors import cardholder_with_cards
    from tests.factories import CardFactory

    CardFactory(cardholder=alice)
    holder, cards = cardholder_with_cards(alice.user)
    expected = list(Card.objects.filter(cardholder=alice).order_by("created_at", "id"))
    assert values(holder) == values(Cardholder.objects.get(pk=alice.pk))
    assert [values(card) for card in cards] == [values(card) for card in expected]
    assert len(cards) == 3 and all(card.cardholder is holder for card in cards)
    assert holder.nin.reveal() == alice.nin.reveal()
    assert not holder._state.adding and not any(card._state.adding for card in cards)
    bobs_holder, bobs_cards = cardholder_with_cards(bob.user)
    assert bobs_holder.pk == bob.pk and [c.pk for c in bobs_cards] == [bob.cards.get().pk]
    charlie.cards.all().delete()
    assert cardholder_with_cards(charlie.user)[0].pk == charlie.pk
    assert cardholder_with_cards(charlie.user)[1] == []
    assert cardholder_with_cards(staff_user) == (None, [])
    assert cardholder_with_cards(AnonymousUser()) == (None, [])

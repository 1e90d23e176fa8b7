"""Long iterations read the table in keyset pages: flat memory, no cursor held open. Writes
that belong together go as one statement on PostgreSQL, all or none everywhere."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import audit_entry
from issuer_portal.core.db import in_pk_chunks, insert_of, update_of, write_together
from issuer_portal.core.models import AuditEntry
from provisioning.models import AttemptState, ProvisioningAttempt
from tests.factories import CardFactory


@pytest.mark.django_db
def test_every_row_comes_once_in_key_order_a_page_a_query():
    cards = CardFactory.create_batch(7)
    with CaptureQueriesContext(connection) as queries:
        seen = [card.pk for card in in_pk_chunks(Card.objects.all(), 3)]
    assert seen == sorted(card.pk for card in cards)
    assert len(queries) == 3  # 3 + 3 + 1 rows
    assert "LIMIT 3" in queries[1]["sql"] and '"id" >' in queries[1]["sql"]


@pytest.mark.django_db
def test_a_filtered_queryset_keeps_its_filter():
    keep = CardFactory.create_batch(4)
    CardFactory.create_batch(3)
    chosen = Card.objects.filter(pk__in=[card.pk for card in keep])
    assert [card.pk for card in in_pk_chunks(chosen, 2)] == sorted(card.pk for card in keep)


def _attempt_for(card: Card, **fields) -> ProvisioningAttempt:
    return ProvisioningAttempt(card=card, cardholder=card.cardholder, channel="web", **fields)


@pytest.mark.django_db(transaction=True)
def test_writes_together_get_their_keys_and_their_defaults():
    card = CardFactory()
    attempt = _attempt_for(card)
    entry = audit_entry("provisioning.initiated", obj=attempt, details={"channel": "web"})
    with CaptureQueriesContext(connection) as queries:
        written = write_together(attempt=insert_of(attempt), audit=insert_of(entry))
    assert written == {"attempt": 1, "audit": 1}
    assert attempt.pk is not None and entry.pk is not None and not attempt._state.adding
    stored = ProvisioningAttempt.objects.get(pk=attempt.pk)
    assert stored.public_id == attempt.public_id and stored.created_at is not None
    assert stored.created_at == attempt.created_at  # auto_now_add applied as save() would
    assert AuditEntry.objects.get(pk=entry.pk).object_id == str(attempt.public_id)
    if connection.vendor == "postgresql":
        assert [q["sql"].split()[0] for q in queries] == ["WITH"]  # one round trip, no BEGIN


@pytest.mark.django_db(transaction=True)
def test_a_failing_write_leaves_none_of_them():
    card = CardFactory()
    first = _attempt_for(card)
    write_together(attempt=insert_of(first))
    second = _attempt_for(card)  # a second attempt in flight for the card: refused
    entry = audit_entry("provisioning.initiated", obj=second)
    with pytest.raises(IntegrityError):
        write_together(audit=insert_of(entry), attempt=insert_of(second))
    assert ProvisioningAttempt.objects.count() == 1
    assert not AuditEntry.objects.filter(object_id=str(second.public_id)).exists()


@pytest.mark.django_db
def test_inside_a_transaction_a_failed_write_leaves_it_usable():
    card = CardFactory()
    with transaction.atomic():
        write_together(attempt=insert_of(_attempt_for(card)))
        with pytest.raises(IntegrityError):
            write_together(attempt=insert_of(_attempt_for(card)))
        assert ProvisioningAttempt.objects.filter(card=card).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_write_made_only_if_an_earlier_one_wrote():
    card = CardFactory()
    attempt = _attempt_for(card)
    write_together(attempt=insert_of(attempt))
    requested = ProvisioningAttempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED)

    def issue() -> dict[str, int]:
        entry = audit_entry("provisioning.link_issued", obj=attempt)
        return write_together(
            link=update_of(requested, state=AttemptState.LINK_READY, universal_link="https://x/"),
            audit=insert_of(entry, only_if="link"),
        )

    assert issue() == {"link": 1, "audit": 1}
    assert issue() == {"link": 0, "audit": 0}  # no longer requested: no second entry
    assert AuditEntry.objects.filter(action="provisioning.link_issued").count() == 1
    assert ProvisioningAttempt.objects.get().universal_link == "https://x/"


def test_a_write_can_only_wait_on_an_earlier_one():
    entry = audit_entry("provisioning.link_issued")
    with pytest.raises(ValueError, match="not an earlier write"):
        write_together(audit=insert_of(entry, only_if="link"))


@pytest.mark.django_db(transaction=True)
def test_an_insert_is_compiled_once_and_sends_what_the_orm_would():
    """The statement of a model's INSERT is made once; each object's values are prepared as the
    ORM prepares them (defaults, auto_now_add, encryption), and an expression is compiled."""
    from django.db.models.functions import Now

    from issuer_portal.core import db

    card = CardFactory()
    for attempt in (_attempt_for(card, state="failed"), _attempt_for(card, state="expired")):
        fields = tuple(f for f in ProvisioningAttempt._meta.local_concrete_fields if f.name != "id")
        write = insert_of(attempt)
        # auto_now(_add) fields are stamped as save() stamps them, each time anew
        stamped = [
            i
            for i, f in enumerate(fields)
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        stamps = [getattr(attempt, fields[i].attname) for i in stamped]
        into, placeholders, params = db._compiled_insert(attempt, fields)
        assert (write.into, write.values) == (into, placeholders)
        assert [write.params[i] for i in stamped] == [
            fields[i].get_db_prep_save(stamp, connection=connection)
            for i, stamp in zip(stamped, stamps, strict=True)
        ]
        assert [p for i, p in enumerate(write.params) if i not in stamped] == [
            p for i, p in enumerate(params) if i not in stamped
        ]  # the ORM's own values
        for i, stamp in zip(stamped, stamps, strict=True):
            setattr(attempt, fields[i].attname, stamp)
        write_together(attempt=write)
        stored = ProvisioningAttempt.objects.get(pk=attempt.pk)
        assert (stored.public_id, stored.state) == (attempt.public_id, attempt.state)
    # A value that is an expression is compiled with the row, not taken for a plain value.
    timed = _attempt_for(card, state="failed", claimed_until=Now())
    write_together(attempt=insert_of(timed))
    assert ProvisioningAttempt.objects.get(pk=timed.pk).claimed_until is not None
    # The card's number goes in encrypted, as save() would write it.
    other = CardFactory.build(cardholder=card.cardholder, raw_pan="4000000000000010")
    write_together(card=insert_of(other))
    stored_card = Card.objects.get(pk=other.pk)
    assert stored_card.pan.reveal() == "4000000000000010"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pan FROM cards_card WHERE id = %s", [other.pk])
        assert "4000000000000010" not in cursor.fetchone()[0]

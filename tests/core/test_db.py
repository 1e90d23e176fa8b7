"""Long iterations read the table in keyset pages: flat memory, no cursor held open."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issuer_portal.cards.models import Card
from issuer_portal.core.db import in_pk_chunks
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

"""Demo cardholders and cards, loaded through the same import service as the bank's feed.

Only the networks' published test card numbers and made-up (checksum-valid) identity numbers.
"""

from __future__ import annotations

import io
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import transaction

from issuer_portal.cards.models import Card, CardState
from issuer_portal.cards.services import IMPORT_COLUMNS, import_cards_csv
from issuer_portal.core.demo_only import DemoOnlyCommand

DEMO_PASSWORD = "vipps-demo-2026"
DEMO_ADMIN = ("admin", "admin-demo-2026")

# username, full name, country, national identity number, PAN, expiry, product, nickname
DEMO_ROWS = [
    (
        "kari",
        "Kari Nordmann",
        "NO",
        "15038510190",
        "4111111111111111",
        "2029-08",
        "Visa Debit",
        "Everyday card",
    ),
    (
        "kari",
        "Kari Nordmann",
        "NO",
        "15038510190",
        "5555555555554444",
        "2030-01",
        "Mastercard Gold",
        "Travel",
    ),
    ("kari", "Kari Nordmann", "NO", "15038510190", "4012888888881881", "2025-06", "Visa Debit", ""),
    (
        "kari",
        "Kari Nordmann",
        "NO",
        "15038510190",
        "5105105105105100",
        "2029-11",
        "Mastercard Standard",
        "Old card",
    ),
    (
        "mette",
        "Mette Hansen",
        "DK",
        "0101901234",
        "4242424242424242",
        "2028-12",
        "Visa Classic",
        "Budget",
    ),
    (
        "mette",
        "Mette Hansen",
        "DK",
        "0101901234",
        "2223003122003222",
        "2029-03",
        "Debit Mastercard",
        "",
    ),
    (
        "emma",
        "Emma Nordmann",
        "NO",
        "12061450015",
        "4000056655665556",
        "2029-05",
        "Visa Youth",
        "My first card",
    ),
    (
        "aino",
        "Aino Virtanen",
        "FI",
        "220488-1233",
        "5200828282828210",
        "2030-04",
        "Debit Mastercard",
        "Arki",
    ),
    (
        "sven",
        "Sven Svensson",
        "SE",
        "199003151231",
        "4917610000000000",
        "2029-09",
        "Visa Debit",
        "",
    ),
    (
        "ola",
        "Ola Nordmann",
        "NO",
        "03047220032",
        "6011111111111117",
        "2029-10",
        "Discover Card",
        "",
    ),
]
BLOCKED_PANS = {"5105105105105100"}


class Command(DemoOnlyCommand):
    help = "Create the demo cardholders, cards and an admin account (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        feed = io.StringIO()
        feed.write(",".join(IMPORT_COLUMNS) + "\n")
        for row in DEMO_ROWS:
            feed.write(",".join(row) + "\n")
        feed.seek(0)
        report = import_cards_csv(stream=feed)
        if report.errors:
            raise CommandError("demo data failed to load: " + "; ".join(map(str, report.errors)))

        user_model = get_user_model()
        for username in {row[0] for row in DEMO_ROWS}:
            user = user_model.objects.get(username=username)
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        for pan in BLOCKED_PANS:
            Card.objects.filter(pan_hmac=Card.pan_lookup_hash(pan)).update(state=CardState.BLOCKED)

        admin_name, admin_password = DEMO_ADMIN
        admin, _ = user_model.objects.get_or_create(
            username=admin_name, defaults={"is_staff": True, "is_superuser": True}
        )
        admin.set_password(admin_password)
        admin.save()
        self.stdout.write(
            f"Demo data ready: {report.summary()}. Cardholders sign in with the password "
            f"{DEMO_PASSWORD!r}; staff sign in to /admin/ as {admin_name!r}."
        )

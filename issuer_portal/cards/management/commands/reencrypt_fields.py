from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from issuer_portal.cards.services import reencrypt_card_data


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored card number and national identity number with the first key in "
        "FIELD_ENCRYPTION_KEYS and recompute their lookup hashes. Run it after rotating a key; "
        "then the old key can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = reencrypt_card_data()
        self.stdout.write(f"Re-encrypted {count} rows with the current key.")

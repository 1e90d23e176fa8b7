"""Write operations on cardholders and cards: the card-management feed and key rotation."""

from __future__ import annotations

import csv
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from issuer_portal.cards.models import Card, Cardholder, Country
from issuer_portal.cards.pan import normalize_expiry
from issuer_portal.core.audit import record_audit

logger = logging.getLogger(__name__)

IMPORT_COLUMNS = ("username", "full_name", "country", "nin", "pan", "expiry", "product", "nickname")
# Optional last column: the public id of the card a row's (new, reissued) card replaces.
OPTIONAL_COLUMNS = ("replaces",)


class ImportFileError(Exception):
    """The file as a whole cannot be imported (wrong header, not CSV, bad encoding)."""


@dataclass(frozen=True)
class ImportRowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    cardholders_created: int = 0
    cardholders_updated: int = 0
    cards_created: int = 0
    cards_updated: int = 0
    rows_unchanged: int = 0
    errors: list[ImportRowError] = field(default_factory=list)
    # (replaced card, new card) for each row whose card replaces another: the wallet tokens
    # are moved by the caller (the tokens layer).
    reissued: list[tuple[Card, Card]] = field(default_factory=list)

    @property
    def rows_ok(self) -> int:
        return self.cards_created + self.cards_updated + self.rows_unchanged

    def summary(self) -> str:
        return (
            f"{self.rows_ok} rows imported ({self.cards_created} cards created, "
            f"{self.cards_updated} updated, {self.rows_unchanged} unchanged; "
            f"{self.cardholders_created} cardholders created, {self.cardholders_updated} updated), "
            f"{len(self.errors)} rows failed"
        )


class _RowRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _first_message(error: ValidationError) -> str:
    return str(error.messages[0])


def _clean_row(row: dict[str, str | None]) -> dict[str, str]:
    if None in row or any(row.get(column) is None for column in IMPORT_COLUMNS):
        raise _RowRejected(f"expected {len(IMPORT_COLUMNS)} columns")
    values = {column: (row[column] or "").strip() for column in IMPORT_COLUMNS}
    for column in ("username", "full_name", "country", "nin", "pan", "expiry", "product"):
        if not values[column]:
            raise _RowRejected(f"{column} is empty")
    if values["country"].upper() not in Country.values:
        raise _RowRejected("country must be one of " + ", ".join(Country.values))
    values["country"] = values["country"].upper()
    if len(values["username"]) > 150:
        raise _RowRejected("username is longer than 150 characters")
    if len(values["full_name"]) > 200:
        raise _RowRejected("full_name is longer than 200 characters")
    if len(values["product"]) > 100:
        raise _RowRejected("product is longer than 100 characters")
    if len(values["nickname"]) > 40:
        raise _RowRejected("nickname is longer than 40 characters")
    values["replaces"] = (row.get("replaces") or "").strip()
    if values["replaces"]:
        try:
            uuid.UUID(values["replaces"])
        except ValueError:
            raise _RowRejected("replaces must be a card id (UUID)") from None
    return values


def _import_row(values: dict[str, str], report: ImportReport) -> None:
    holder_probe = Cardholder()
    try:
        holder_probe.set_nin(values["country"], values["nin"])
    except ValidationError as error:
        raise _RowRejected(_first_message(error)) from None
    card_probe = Card()
    try:
        card_probe.set_pan(values["pan"])
        expiry = normalize_expiry(values["expiry"])
    except ValidationError as error:
        raise _RowRejected(_first_message(error)) from None

    user_model = get_user_model()
    user = user_model.objects.filter(username=values["username"]).first()
    cardholder = Cardholder.objects.filter(user=user).first() if user else None
    if user is not None and cardholder is None and (user.is_staff or user.is_superuser):
        raise _RowRejected("username belongs to a bank staff account")
    owner_of_nin = Cardholder.objects.filter(nin_hmac=holder_probe.nin_hmac).first()
    if owner_of_nin is not None and owner_of_nin != cardholder:
        raise _RowRejected("national identity number already belongs to another cardholder")
    if cardholder is not None and cardholder.nin_hmac != holder_probe.nin_hmac:
        raise _RowRejected("national identity number differs from the existing cardholder's")
    card = Card.objects.filter(pan_hmac=card_probe.pan_hmac).first()
    if card is not None and cardholder is not None and card.cardholder_id != cardholder.pk:
        raise _RowRejected("card number already belongs to another cardholder")
    if card is not None and cardholder is None:
        raise _RowRejected("card number already belongs to another cardholder")

    replaced = None
    if values["replaces"]:
        replaced = Card.objects.filter(public_id=values["replaces"]).first()
        if replaced is None or cardholder is None or replaced.cardholder_id != cardholder.pk:
            raise _RowRejected("replaces names no card of this cardholder")
        if card is not None and card.pk == replaced.pk:
            raise _RowRejected("a card cannot replace itself")

    if user is None:
        user = user_model(username=values["username"])
        # Cardholders sign in through the bank's identity provider, never with a password here.
        user.set_unusable_password()
        user.save()
    if cardholder is None:
        cardholder = Cardholder(user=user, full_name=values["full_name"])
        cardholder.set_nin(values["country"], values["nin"])
        cardholder.save()
        report.cardholders_created += 1
    elif cardholder.full_name != values["full_name"]:
        cardholder.full_name = values["full_name"]
        cardholder.save(update_fields=["full_name", "updated_at"])
        report.cardholders_updated += 1

    if card is None:
        card = Card(
            cardholder=cardholder,
            expiry=expiry,
            product=values["product"],
            nickname=values["nickname"],
        )
        card.set_pan(values["pan"])
        card.replaces = replaced
        card.save()
        report.cards_created += 1
        if replaced is not None:
            report.reissued.append((replaced, card))
        return
    if replaced is not None:
        report.reissued.append((replaced, card))  # moved by the caller; a repeat is a no-op
    changes = {
        name: value
        for name, value in (
            ("expiry", expiry),
            ("product", values["product"]),
            ("nickname", values["nickname"]),
        )
        if getattr(card, name) != value
    }
    if not changes:
        # Not saved at all: re-importing the same file must not even re-encrypt.
        report.rows_unchanged += 1
        return
    for name, value in changes.items():
        setattr(card, name, value)
    card.save(update_fields=[*changes, "updated_at"])
    report.cards_updated += 1


def import_cards_csv(*, stream: TextIO) -> ImportReport:
    """Load cardholders and cards from the card-management CSV feed.

    The header must be exactly IMPORT_COLUMNS, optionally followed by OPTIONAL_COLUMNS. Each row
    is imported in its own transaction: a bad
    row is recorded in the report (line number and reason, never the PAN or NIN) and the others
    still load. Re-importing the same file changes nothing; a changed row updates the card.

    Raises ImportFileError when the file as a whole is unusable.
    """
    report = ImportReport()
    try:
        reader = csv.DictReader(stream)
        header = reader.fieldnames
        names = tuple(name.strip() for name in header or ())
        if names not in (IMPORT_COLUMNS, IMPORT_COLUMNS + OPTIONAL_COLUMNS):
            raise ImportFileError(
                "the header must be: "
                + ",".join(IMPORT_COLUMNS)
                + " (optionally followed by ,"
                + ",".join(OPTIONAL_COLUMNS)
                + ")"
            )
        reader.fieldnames = list(names)
        rows: Iterable[dict[str, str | None]] = reader
        for row in rows:
            line = reader.line_num
            try:
                with transaction.atomic():
                    _import_row(_clean_row(row), report)
            except _RowRejected as rejected:
                report.errors.append(ImportRowError(line=line, reason=rejected.reason))
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None
    except csv.Error as error:
        raise ImportFileError(f"the file is not valid CSV ({error.__class__.__name__})") from None
    logger.info("card import finished: %s", report.summary())
    record_audit(
        "cards.imported",
        outcome="failure" if report.errors else "success",
        object_type="card_import",
        details={
            "cards_created": report.cards_created,
            "cards_updated": report.cards_updated,
            "unchanged": report.rows_unchanged,
            "rows_failed": len(report.errors),
        },
    )
    return report


def reencrypt_card_data(*, batch_size: int = 500) -> int:
    """Re-encrypt every PAN and NIN with the current key and recompute their lookup hashes.

    Run after putting a new key first in FIELD_ENCRYPTION_KEYS (or changing FIELD_HMAC_KEY);
    afterwards the old key can be removed. Returns the number of rows rewritten.
    """
    rewritten = 0
    for model, fields, rehash in (
        (
            Cardholder,
            ["nin", "nin_hmac"],
            lambda row: setattr(
                row, "nin_hmac", Cardholder.nin_lookup_hash(row.country, row.nin.reveal())
            ),
        ),
        (
            Card,
            ["pan", "pan_hmac"],
            lambda row: setattr(row, "pan_hmac", Card.pan_lookup_hash(row.pan.reveal())),
        ),
    ):
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), batch_size):
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update().filter(pk__in=ids[start : start + batch_size])
                )
                for row in rows:
                    rehash(row)
                # bulk_update sends every encrypted field through get_prep_value: the first key.
                model.objects.bulk_update(rows, fields)
                rewritten += len(rows)
    logger.info("re-encrypted %d rows of card data", rewritten)
    return rewritten

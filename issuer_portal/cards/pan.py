"""Card numbers (PANs): validation, network from the IIN, expiry dates and masking."""

from __future__ import annotations

import calendar
import datetime
import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from stdnum import luhn

_EXPIRY = re.compile(r"^(?P<year>20\d\d)-(?P<month>0[1-9]|1[0-2])$")


class Network(models.TextChoices):
    VISA = "visa", "Visa"
    MASTERCARD = "mastercard", "Mastercard"
    OTHER = "other", _("Other (not supported)")


SUPPORTED_NETWORKS = frozenset({Network.VISA, Network.MASTERCARD})


def normalize_pan(raw: str) -> str:
    """Return the PAN as bare digits, or raise ValidationError (the message never echoes it)."""
    digits = re.sub(r"[\s-]", "", raw or "")
    if not digits.isdigit():
        raise ValidationError(_("The card number may contain digits only."), code="pan_format")
    if not 13 <= len(digits) <= 19:
        raise ValidationError(_("The card number must have 13 to 19 digits."), code="pan_length")
    if not luhn.is_valid(digits):
        raise ValidationError(
            _("The card number is not valid (check digit mismatch)."), code="pan_checksum"
        )
    return digits


def network_for_pan(pan: str) -> Network:
    """Card network from the issuer identification number (the leading digits)."""
    if pan.startswith("4"):
        return Network.VISA
    if 51 <= int(pan[:2]) <= 55 or 2221 <= int(pan[:4]) <= 2720:
        return Network.MASTERCARD
    return Network.OTHER


def normalize_expiry(raw: str) -> str:
    """Return the expiry as ``YYYY-MM`` or raise ValidationError."""
    value = (raw or "").strip()
    if not _EXPIRY.match(value):
        raise ValidationError(
            _("The expiry must be written as YYYY-MM, for example 2028-12."), code="expiry"
        )
    return value


def expiry_last_day(expiry: str) -> datetime.date:
    """The last day on which a card with this ``YYYY-MM`` expiry is still valid."""
    year, month = (int(part) for part in expiry.split("-"))
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


def masked_pan(last4: str) -> str:
    return f"•••• {last4}"

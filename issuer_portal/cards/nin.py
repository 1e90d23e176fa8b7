"""National identity numbers of the Nordic countries we serve, validated with python-stdnum.

Norway: fødselsnummer / D-number (11 digits). Denmark: CPR (10 digits; the modulus-11 check was
dropped by the CPR office in 2007, so the embedded birth date is what can be checked). Finland:
henkilötunnus (DDMMYY, century sign, 3 digits, check character). Sweden: personnummer or
samordningsnummer, stored with the century as 12 digits.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.dk import cpr
from stdnum.exceptions import InvalidChecksum, InvalidComponent
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fi import hetu
from stdnum.no import fodselsnummer
from stdnum.se import personnummer

_HETU_CENTURIES = {"+": 1800} | dict.fromkeys("-YXWVU", 1900) | dict.fromkeys("ABCDEF", 2000)


def _hetu_birth_date(number: str) -> datetime.date:
    century = _HETU_CENTURIES[number[6]]
    return datetime.date(century + int(number[4:6]), int(number[2:4]), int(number[0:2]))


def normalize_nin(country: str, raw: str) -> str:
    """Validate ``raw`` for ``country`` and return its stored form.

    Raises ValidationError with a message that never contains the number.
    """
    raw = (raw or "").strip()
    try:
        if country == "NO":
            number = fodselsnummer.validate(raw)
        elif country == "DK":
            number = cpr.validate(raw)
        elif country == "FI":
            number = hetu.validate(raw)
        elif country == "SE":
            # Stored as YYYYMMDDNNNC: the 10-digit form's "+" (over 100) is ambiguous later on.
            validated = personnummer.validate(raw)
            century = personnummer.get_birth_date(validated).year // 100
            number = f"{century}{validated[-11:-5]}{validated[-4:]}"
        else:
            raise ValidationError(_("Unsupported country."), code="nin_country")
        birth_date = birth_date_from_nin(country, number)
    except InvalidChecksum:
        raise ValidationError(
            _("The national identity number is not valid (check digit mismatch)."),
            code="nin_checksum",
        ) from None
    except InvalidComponent:
        raise ValidationError(
            _("The national identity number does not contain a valid birth date."),
            code="nin_date",
        ) from None
    except (StdnumError, ValueError):
        raise ValidationError(
            _("The national identity number has the wrong format for this country."),
            code="nin_format",
        ) from None
    if birth_date > datetime.date.today():
        raise ValidationError(
            _("The national identity number does not contain a valid birth date."),
            code="nin_date",
        )
    return number


def birth_date_from_nin(country: str, number: str) -> datetime.date:
    """Birth date embedded in a number already returned by :func:`normalize_nin`."""
    if country == "NO":
        return fodselsnummer.get_birth_date(number)
    if country == "DK":
        return cpr.get_birth_date(number)
    if country == "FI":
        return _hetu_birth_date(number)
    if country == "SE":
        return personnummer.get_birth_date(f"{number[:8]}-{number[8:]}")
    raise ValueError("unsupported country")


def masked_nin(country: str, number: str) -> str:
    """The number with its personal part (everything after the birth date) hidden."""
    if country == "SE":
        return f"{number[:8]}-••••"
    if country == "FI":
        return f"{number[:7]}••••"
    if country == "DK":
        return f"{number[:6]}-••••"
    return f"{number[:6]} •••••"

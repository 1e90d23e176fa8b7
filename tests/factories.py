"""Test data: valid, made-up identity numbers and Luhn-valid card numbers, generated."""

from __future__ import annotations

import datetime
import itertools
import random

import factory
from django.contrib.auth import get_user_model
from stdnum import luhn
from stdnum.no import fodselsnummer

from issuer_portal.cards.models import Card, Cardholder
from provisioning import vipps
from provisioning.jwe import encrypt_card_data
from provisioning.keys import current_jwe_key

_serial = itertools.count(1)
_issued: set[str] = set()  # numbers handed out in this process: each only once


def norwegian_nin(born: datetime.date) -> str:
    """A checksum-valid fødselsnummer for ``born`` (individual numbers per century rules)."""
    start = 500 if born.year >= 2000 else 0
    offset = next(_serial)
    for step in range(500):
        individual = start + (offset + step) % 500
        base = born.strftime("%d%m%y") + f"{individual:03d}"
        check1 = fodselsnummer.calc_check_digit1(base)
        if len(check1) != 1:
            continue
        check2 = fodselsnummer.calc_check_digit2(base + check1)
        if len(check2) == 1 and base + check1 + check2 not in _issued:
            _issued.add(base + check1 + check2)
            return base + check1 + check2
    raise AssertionError("unreachable")


def danish_nin(born: datetime.date) -> str:
    # CPR: the 7th digit together with the year gives the century; 0-3 means 1900-1999,
    # 4 or 9 means 2000-2036 for years 00-36.
    seventh = "0" if born.year < 2000 else "4"
    return born.strftime("%d%m%y") + seventh + f"{next(_serial) % 1000:03d}"


def finnish_nin(born: datetime.date) -> str:
    sign = "-" if born.year < 2000 else "A"
    individual = 2 + next(_serial) % 800
    digits = born.strftime("%d%m%y") + f"{individual:03d}"
    check = "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(digits) % 31]
    return f"{born:%d%m%y}{sign}{individual:03d}{check}"


def swedish_nin(born: datetime.date) -> str:
    body = born.strftime("%y%m%d") + f"{next(_serial) % 1000:03d}"
    return f"{born.year // 100}{body}{luhn.calc_check_digit(body)}"


NIN_FOR_COUNTRY = {"NO": norwegian_nin, "DK": danish_nin, "FI": finnish_nin, "SE": swedish_nin}


def luhn_pan(prefix: str = "4", length: int = 16) -> str:
    body = prefix + "".join(random.choices("0123456789", k=length - len(prefix) - 1))  # noqa: S311
    return body + luhn.calc_check_digit(body)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"cardholder{n}")
    password = factory.django.Password("correct horse battery")


class CardholderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cardholder

    born = datetime.date(1985, 3, 15)
    raw_nin = None
    user = factory.SubFactory(UserFactory)
    full_name = factory.Faker("name")
    country = "NO"

    @classmethod
    def _build(cls, model_class: type[Cardholder], *args: object, **kwargs: object) -> Cardholder:
        """In memory only (``.build()``): for pure rules that need no database."""
        born = kwargs.pop("born")
        raw_nin = kwargs.pop("raw_nin")
        country = kwargs.pop("country")
        cardholder = model_class(**kwargs)
        cardholder.set_nin(country, raw_nin or NIN_FOR_COUNTRY[country](born))
        return cardholder

    @classmethod
    def _create(cls, model_class: type[Cardholder], *args: object, **kwargs: object) -> Cardholder:
        cardholder = cls._build(model_class, *args, **kwargs)
        cardholder.save()
        return cardholder


class CardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Card

    raw_pan = factory.LazyFunction(luhn_pan)
    cardholder = factory.SubFactory(CardholderFactory)
    expiry = "2030-06"
    product = "Visa Debit"
    nickname = ""

    @classmethod
    def _build(cls, model_class: type[Card], *args: object, **kwargs: object) -> Card:
        """In memory only (``.build()``): for pure rules that need no database."""
        raw_pan = kwargs.pop("raw_pan")
        card = model_class(**kwargs)
        card.set_pan(raw_pan)
        return card

    @classmethod
    def _create(cls, model_class: type[Card], *args: object, **kwargs: object) -> Card:
        card = cls._build(model_class, *args, **kwargs)
        card.save()
        return card


def request_for(card, **overrides) -> vipps.ProvisioningRequest:
    holder = card.cardholder
    fields = {
        "encrypted_card_data": encrypt_card_data(
            pan=card.pan, expiry=card.expiry, key=current_jwe_key()
        ),
        "country_code": holder.country,
        "nin": holder.nin,
        "issuer_name": "Demo Bank ASA",
        "last4": card.last4,
        "return_url": "http://127.0.0.1:8000/provisioning/x/return/?sig=abc",
        "suggested_nickname": None,
    }
    fields.update(overrides)
    return vipps.ProvisioningRequest(**fields)

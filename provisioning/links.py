"""The links the domain hands out: signed, expiring return links and the NFC-enrollment link."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card
from issuer_portal.core.audit import record_audit
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from provisioning.models import ProvisioningAttempt
from tokens.status import CardWalletState, NextAction

RETURN_SALT = "provisioning-return"

NFC_RETURN_SALT = "nfc-return"

# Where Vipps sends the user back: our pages' paths, defined here for the links we hand out and
# used by provisioning/urls.py for the routes, so the two cannot drift apart.
RETURN_PATH = "provisioning/{attempt_id}/return/"
NFC_RETURN_PATH = "cards/{card_id}/nfc/return/"

# Return links (in Vipps' app, browser histories, shared screenshots) stop working after a day.
RETURN_LINK_MAX_AGE = 24 * 3600


def _link_signature(salt: str, value: str) -> str:
    """A timestamped signature of ``value`` for a link's ``sig`` parameter."""
    return signing.TimestampSigner(salt=salt).sign(value).removeprefix(f"{value}:")


def _link_signature_valid(salt: str, value: str, signature: str) -> bool:
    try:
        signing.TimestampSigner(salt=salt).unsign(
            f"{value}:{signature or ''}", max_age=RETURN_LINK_MAX_AGE
        )
    except signing.BadSignature:  # forged, mangled or expired (SignatureExpired)
        return False
    return True


def _signed_link(salt: str, path: str, value: str) -> str:
    """An absolute link to one of our pages, signed (with a timestamp) for ``value``."""
    query = urlencode({"sig": _link_signature(salt, value)})
    return f"{settings.PUBLIC_BASE_URL}/{path}?{query}"


def return_url_for(attempt: ProvisioningAttempt) -> str:
    """Our signed return URL: works without a session and in another browser."""
    path = RETURN_PATH.format(attempt_id=attempt.public_id)
    return _signed_link(RETURN_SALT, path, str(attempt.public_id))


def attempt_for_return(public_id: uuid.UUID, signature: str) -> ProvisioningAttempt | None:
    """The attempt a signed return URL names, or None when the signature is wrong or expired."""
    if not _link_signature_valid(RETURN_SALT, str(public_id), signature):
        return None
    return (
        ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder")
        .filter(public_id=public_id)
        .first()
    )


def nfc_return_url_for(card: Card) -> str:
    path = NFC_RETURN_PATH.format(card_id=card.public_id)
    return _signed_link(NFC_RETURN_SALT, path, str(card.public_id))


def card_for_nfc_return(public_id: uuid.UUID, signature: str) -> Card | None:
    if not _link_signature_valid(NFC_RETURN_SALT, str(public_id), signature):
        return None
    return Card.objects.select_related("cardholder").filter(public_id=public_id).first()


def nfc_enrollment_link(*, card: Card, state: CardWalletState) -> str:
    """The direct NFC-enrollment universal link (no API call). Raises DomainError."""
    if state.next_action != NextAction.NFC_ENROLL or not state.ecom_token_reference:
        raise DomainError(
            ErrorCode.NOT_ELIGIBLE,
            state.reason_text or str(_("Contactless cannot be set up for this card.")),
        )
    query = urlencode(
        {
            "expiry": card.expiry,
            "last4": card.last4,
            "token-reference": state.ecom_token_reference,
            "return-url": nfc_return_url_for(card),
        }
    )
    base = settings.VIPPS_NFC_LINK_BASE
    record_audit("provisioning.nfc_link_issued", obj=card)
    return f"{base}{'&' if '?' in base else '?'}{query}"

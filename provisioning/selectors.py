"""Read queries of provisioning, scoped to the cardholder who asks."""

from __future__ import annotations

import uuid

from issuer_portal.cards.models import Cardholder
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from provisioning.models import ProvisioningAttempt


def attempt_for_cardholder(
    cardholder: Cardholder | None, public_id: uuid.UUID
) -> ProvisioningAttempt:
    """One of the cardholder's attempts; DomainError(not_found) for anyone else's."""
    if cardholder is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.")
    try:
        # public_id is unique: get() (no ORDER BY) on a page that polls.
        return ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder").get(
            public_id=public_id, cardholder=cardholder
        )
    except ProvisioningAttempt.DoesNotExist:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.") from None

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
    attempt = (
        ProvisioningAttempt.objects.select_related("card__cardholder", "cardholder")
        .filter(public_id=public_id, cardholder=cardholder)
        .first()
        if cardholder is not None
        else None
    )
    if attempt is None:
        raise DomainError(ErrorCode.NOT_FOUND, "Not found.")
    return attempt

"""Health of the Vipps client configuration, checked without calling Vipps."""

from __future__ import annotations

import logging

from provisioning.certificates import client_certificate
from provisioning.keys import JweKeyError, current_jwe_key

logger = logging.getLogger(__name__)


def check_vipps_client() -> str:
    """ok when the client certificate and key are readable and unexpired and a JWE key exists."""
    certificate = client_certificate()
    if certificate.problem:
        logger.error("health check: Vipps client certificate: %s", certificate.problem)
        return "failing"
    try:
        current_jwe_key()
    except JweKeyError as error:
        logger.error("health check: Vipps JWE key: %s", error)
        return "failing"
    return "ok"

"""Who a provider's claims are: a cardholder's account, a staff member with roles, or nobody.

No account is ever created for a cardholder (the bank's card import makes them). Staff accounts
are made and kept in step with the directory's groups at every sign-in.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction

from issuer_portal.accounts.models import StaffIdentity
from issuer_portal.cards.models import Cardholder
from issuer_portal.cards.selectors import nin_lookup_hashes

security_log = logging.getLogger("issuer_portal.security")


def cardholder_account_for_claims(claims: dict[str, Any]) -> AbstractBaseUser | None:
    """The active account of the cardholder these claims name, or None.

    By OIDC_NIN_CLAIM (matched through the keyed hash) when that is set, else by
    OIDC_USERNAME_CLAIM against the username.
    """
    users = get_user_model().objects.filter(is_active=True, cardholder__isnull=False)
    if settings.OIDC_NIN_CLAIM:
        raw = claims.get(settings.OIDC_NIN_CLAIM)
        if not isinstance(raw, str) or not raw:
            return None
        hashes = nin_lookup_hashes(raw)
        return users.filter(cardholder__nin_hmac__in=hashes).first() if hashes else None
    username = claims.get(settings.OIDC_USERNAME_CLAIM)
    if not isinstance(username, str | int) or not str(username):
        return None
    return users.filter(username=str(username)).first()


def roles_from_groups(groups: Any) -> list[str]:
    """The portal roles STAFF_OIDC_GROUP_ROLES gives these directory groups."""
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list | tuple):
        return []
    mapping = settings.STAFF_OIDC_GROUP_ROLES
    return sorted(
        {mapping[group] for group in groups if isinstance(group, str) and group in mapping}
    )


class StaffAccessRefused(Exception):
    """Signed in at the directory, but no access here. ``reason`` is a code for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def staff_multi_factor_problem(claims: dict[str, Any]) -> str | None:
    """Why the directory's sign-in falls short of STAFF_OIDC_REQUIRED_ACR / _AMR, or None."""
    required_acr = settings.STAFF_OIDC_REQUIRED_ACR
    if required_acr and claims.get("acr") not in required_acr:
        return "acr_not_met"
    amr = claims.get("amr")
    methods = set(amr) if isinstance(amr, list) else set()
    if not set(settings.STAFF_OIDC_REQUIRED_AMR) <= methods:
        return "amr_not_met"
    return None


def staff_account_for_claims(claims: dict[str, Any], *, issuer: str) -> AbstractBaseUser:
    """The staff account for these claims with its roles re-applied from the groups claim.

    Raises StaffAccessRefused when the person has no mapped group (an account they had loses
    its roles and admin access), when the multi-factor requirement is not met, or when the
    username belongs to an account the directory does not own (a cardholder, a local account).
    """
    subject = str(claims.get("sub", ""))
    username = claims.get(settings.STAFF_OIDC_USERNAME_CLAIM)
    if not subject or not isinstance(username, str) or not username:
        raise StaffAccessRefused("no_username")
    link = StaffIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject)
    known = link.first()
    user = known.user if known else None
    roles = roles_from_groups(claims.get(settings.STAFF_OIDC_GROUPS_CLAIM))
    if not roles:
        if user is not None:
            # A leaver or a moved person: access ends at this sign-in.
            user.groups.clear()
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        raise StaffAccessRefused("no_mapped_group")
    if (problem := staff_multi_factor_problem(claims)) is not None:
        raise StaffAccessRefused(problem)
    with transaction.atomic():
        return _apply_staff_roles(
            user, username=username, subject=subject, issuer=issuer, roles=roles
        )


def _apply_staff_roles(
    user: AbstractBaseUser | None, *, username: str, subject: str, issuer: str, roles: list[str]
) -> AbstractBaseUser:
    if user is None:
        model = get_user_model()
        if model.objects.filter(username=username).exists():
            # Never take over an account the directory did not create (break-glass, cardholder).
            raise StaffAccessRefused("username_taken")
        user = model(username=username)
        user.set_unusable_password()
        user.save()
        StaffIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    taken = get_user_model().objects.filter(username=username).exclude(pk=user.pk).exists()
    if taken or Cardholder.objects.filter(user=user).exists():
        raise StaffAccessRefused("username_taken")
    user.username = username
    user.is_staff = True
    user.is_active = True
    user.save(update_fields=["username", "is_staff", "is_active"])
    found = list(Group.objects.filter(name__in=roles))
    missing = set(roles) - {group.name for group in found}
    if missing:
        security_log.error("STAFF_OIDC_GROUP_ROLES names roles that do not exist: %s", missing)
    user.groups.set(found)
    return user

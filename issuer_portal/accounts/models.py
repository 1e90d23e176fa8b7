"""What sign-in through the bank's identity providers needs to remember."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffIdentity(models.Model):
    """The directory's person (issuer and subject) behind a staff account it created."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("staff single sign-on identity")
        verbose_name_plural = _("staff single sign-on identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="one_account_per_person")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.issuer}"


class ProviderSession(models.Model):
    """A portal session opened by a provider's sign-in, found again by back-channel logout.

    The provider's ``sid`` and a keyed hash of its ``sub`` (not the subject itself: for some
    providers it is close to a personal number).
    """

    session_key = models.CharField(max_length=64, unique=True)
    issuer = models.CharField(max_length=255)
    sid = models.CharField(max_length=255, blank=True, db_index=True)
    subject_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identity provider session")
        verbose_name_plural = _("identity provider sessions")

    def __str__(self) -> str:
        return f"session at {self.issuer}"


class SeenLogoutToken(models.Model):
    """A logout token already acted on (a hash of its issuer and jti): replays are refused."""

    digest = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.digest[:12]

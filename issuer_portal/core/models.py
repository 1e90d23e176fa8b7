"""What shared infrastructure owns: the security audit log, and the leases of periodic jobs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class AuditAction(models.TextChoices):
    """The audit log's vocabulary: the stored code, and what staff read in admin."""

    SIGN_IN = "auth.sign_in", _("Sign-in")
    API_TOKEN_REFUSED = "api.token_refused", _("API token refused")
    AUDIT_EXPORTED = "audit.exported", _("Audit log exported")
    CARDS_IMPORTED = "cards.imported", _("Cards imported")
    PROVISIONING_INITIATED = "provisioning.initiated", _("Adding a card started")
    LINK_ISSUED = "provisioning.link_issued", _("Link to the wallet issued")
    NFC_LINK_ISSUED = "provisioning.nfc_link_issued", _("Contactless link issued")
    RETURNED = "provisioning.returned", _("Cardholder back from the wallet")
    FAILED = "provisioning.failed", _("Adding a card failed")
    ADMIN_RETRY = "provisioning.admin_retry", _("Attempt retried by staff")
    ADMIN_CANCEL = "provisioning.admin_cancel", _("Attempt cancelled by staff")
    JWE_KEY_CHANGED = "provisioning.jwe_key_changed", _("Vipps JWE key changed")
    TRID_CHANGED = "tokens.trid_changed", _("TRID changed")
    NOTIFICATION_RECEIVED = "tokens.notification_received", _("Token notification received")


class AuditEntry(models.Model):
    """One security-relevant event. Append-only; never holds a PAN, NIN or JWE."""

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=150)  # username, or "system"
    # Choices label the codes in admin; a code not listed is still stored (and shown as is).
    action = models.CharField(_("action"), max_length=64, db_index=True, choices=AuditAction)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object"), max_length=64, blank=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=16)
    source_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    correlation_id = models.CharField(_("correlation id"), max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        permissions = [("export_auditentry", "Can export the audit log")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit log is append-only.")


class JobLease(models.Model):
    """Who runs a periodic job now, and when it last started (issuer_portal.core.leases).

    A row in the database, not a lock in Redis or in a process: two beat schedulers overlapping
    during a deploy, or any number of workers, agree through the one store every replica shares,
    and it works behind PgBouncer in transaction mode (no session-level advisory locks).
    """

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    held_until = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("job lease")

    def __str__(self) -> str:
        return self.name

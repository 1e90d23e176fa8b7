"""Provisioning attempts, their upstream calls, and Vipps' JWE public keys."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issuer_portal.cards.models import Card, Cardholder
from provisioning.jwe_key_parsing import JweKeyError, parse_public_key


class VippsJweKey(models.Model):
    """A Vipps public key for encrypting card data, identified by the ``kid`` Vipps gave it."""

    kid = models.CharField(_("key id (kid)"), max_length=200, unique=True)
    public_key = models.TextField(
        _("public key"),
        help_text=_("PEM (BEGIN PUBLIC KEY) or a JWK as JSON. RSA, 4096 bits."),
    )
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("Vipps JWE key")
        verbose_name_plural = _("Vipps JWE keys")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return self.kid

    def clean(self) -> None:

        try:
            parse_public_key(self.public_key)
        except JweKeyError as error:
            from django.core.exceptions import ValidationError

            raise ValidationError({"public_key": str(error)}) from None


class Channel(models.TextChoices):
    WEB = "web", _("Web portal")
    APP = "app", _("Mobile app")


class AttemptState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    LINK_READY = "link_ready", _("Link ready")
    RETURNED = "returned", _("Returned")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


IN_FLIGHT_STATES = (AttemptState.REQUESTED, AttemptState.LINK_READY)
FINAL_STATES = (AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.EXPIRED)


class ProvisioningAttempt(models.Model):
    """One press of "Add to Vipps/MobilePay". Holds no PAN, NIN or JWE."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="provisioning_attempts")
    cardholder = models.ForeignKey(
        Cardholder, on_delete=models.CASCADE, related_name="provisioning_attempts"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=AttemptState.choices, default=AttemptState.REQUESTED
    )
    # X-Request-ID: the same for every upstream call and retry of this attempt.
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    universal_link = models.URLField(_("universal link"), max_length=2000, blank=True)
    app_return_url = models.URLField(max_length=2000, blank=True)
    error_code = models.CharField(_("error code"), max_length=64, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)
    # Set while one worker owns the upstream call: the claim that makes it happen once.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When the queued retry should have run: the sweeper re-queues attempts it finds past this.
    retry_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    link_ready_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("provisioning attempt")
        verbose_name_plural = _("provisioning attempts")
        ordering = ["-created_at"]
        constraints = [
            # At most one attempt in flight per card: double clicks and races reuse it.
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(state__in=["requested", "link_ready"]),
                name="one_attempt_in_flight_per_card",
            )
        ]
        indexes = [models.Index(fields=["state", "created_at"])]
        permissions = [
            ("retry_provisioningattempt", "Can retry a failed provisioning attempt"),
            ("cancel_provisioningattempt", "Can cancel a pending provisioning attempt"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.state})"

    @property
    def ready_link(self) -> str:
        """The universal link to send the user to, only while the attempt is link ready."""
        return self.universal_link if self.state == AttemptState.LINK_READY else ""

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def age_seconds(self) -> float:
        return (timezone.now() - self.created_at).total_seconds()


class UpstreamCall(models.Model):
    """One HTTP call to Vipps for an attempt: what staff need to trace it with Vipps."""

    attempt = models.ForeignKey(ProvisioningAttempt, on_delete=models.CASCADE, related_name="calls")
    trace_id = models.UUIDField(_("X-Trace-ID"), unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=16)  # success, transient, permanent
    # What Vipps rejected (REQUEST_VALIDATION_ERROR): field names and rules, never values.
    details = models.JSONField(_("details"), default=list, blank=True)

    class Meta:
        verbose_name = _("upstream call")
        verbose_name_plural = _("upstream calls")
        ordering = ["started_at", "id"]
        # The funnel's latency percentiles read calls by time, ordered by duration.
        indexes = [models.Index(fields=["started_at", "duration_ms"])]

    def __str__(self) -> str:
        return f"{self.trace_id} {self.status_code or '-'} {self.outcome}"


class ProvisioningOffer(models.Model):
    """A card shown with "Add to Vipps/MobilePay" on a day, in a channel: the funnel's first step.

    Brand and network are copied in so the funnel groups without joins.
    """

    day = models.DateField(db_index=True)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    brand = models.CharField(max_length=16)
    network = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "card", "channel"], name="one_offer_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.card_id} {self.channel}"


class StartsInWindow(models.Model):
    """How many new attempts a cardholder started in the current window of
    PROVISIONING_RATE_WINDOW_SECONDS (``window`` is Unix time divided by it).

    Counted by the statement that writes the attempt (``provisioning.starting``): a press whose
    insert the one-in-flight index refuses (a double click) is never counted, and presses of one
    cardholder made at once queue on this row, so none is refused for a count that a double
    click would have given back. One row per cardholder, rewritten when a new window begins.
    """

    cardholder = models.OneToOneField(
        Cardholder, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    window = models.BigIntegerField()
    started = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.cardholder_id}: {self.started} in window {self.window}"

"""Admin on a Norwegian setup reads Norwegian: headers, actions, statuses and audit events."""

from __future__ import annotations

import pytest
from django.urls import reverse

from issuer_portal.core.audit import record_audit
from provisioning.models import AttemptState, Channel, ProvisioningAttempt

pytestmark = pytest.mark.django_db


@pytest.fixture
def norwegian_admin(client, staff_user):
    client.force_login(staff_user)
    client.cookies["django_language"] = "nb"
    return client


def test_attempts_list_and_page_are_norwegian(norwegian_admin, alice):
    attempt = ProvisioningAttempt.objects.create(
        card=alice.cards.first(), cardholder=alice, channel=Channel.WEB, state=AttemptState.FAILED
    )
    record_audit("provisioning.initiated", obj=attempt, correlation=str(attempt.correlation_id))
    html = norwegian_admin.get(
        reverse("admin:provisioning_provisioningattempt_changelist")
    ).content.decode()
    assert "Prøv de valgte mislykkede forsøkene på nytt" in html  # the retry action
    assert "Ingen feil" in html and "Mislyktes" in html
    page = norwegian_admin.get(
        reverse("admin:provisioning_provisioningattempt_change", args=[attempt.pk])
    ).content.decode()
    assert "Start på å legge til kort" in page and "provisioning.initiated" not in page


def test_audit_log_names_events_in_words(norwegian_admin, alice):
    record_audit("auth.sign_in", object_id="alice")
    html = norwegian_admin.get(reverse("admin:core_auditentry_changelist")).content.decode()
    assert "Innlogging" in html and ">auth.sign_in<" not in html
    assert "Revisjonslogg" in html or "revisjonslogg" in html


def test_the_card_page_shows_wallet_status_in_words(norwegian_admin, alice):
    card = alice.cards.first()
    html = norwegian_admin.get(reverse("admin:cards_card_change", args=[card.pk])).content.decode()
    assert "Ikke lagt til" in html and "not_added" not in html

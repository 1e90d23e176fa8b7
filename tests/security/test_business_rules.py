"""Item 4: a card's rules hold until the last moment before anything reaches Vipps."""

from __future__ import annotations

import pytest

from issuer_portal.cards.models import CardState
from issuer_portal.core.domain_errors import DomainError, ErrorCode
from provisioning import services
from provisioning.models import ProvisioningAttempt
from tests.factories import CardholderFactory, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def visa(alice):
    return alice.cards.get(last4="1111")


def pending_attempt(client, alice, visa, vipps_sandbox) -> ProvisioningAttempt:
    """The first call fails transiently, so the attempt waits for its retry."""
    vipps_sandbox.faults.append("503")
    client.force_login(alice.user)
    client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "requested"
    return attempt


def block(card) -> None:
    card.state = CardState.BLOCKED
    card.save()


def test_a_retry_never_sends_a_card_blocked_in_the_meantime(client, alice, visa, vipps_sandbox):
    attempt = pending_attempt(client, alice, visa, vipps_sandbox)
    calls_before = len(vipps_sandbox.seen)
    # Blocked behind the app's back (a bulk update sends no signal): the retry still checks.
    type(visa).objects.filter(pk=visa.pk).update(state=CardState.BLOCKED)
    outcome = services.try_upstream_call(attempt.pk)
    attempt.refresh_from_db()
    assert outcome == services.TryOutcome.FAILED
    assert attempt.state == "failed" and attempt.error_code == "NOT_ELIGIBLE_CARD_BLOCKED"
    assert len(vipps_sandbox.seen) == calls_before, "nothing was sent to Vipps"


def test_an_expired_card_is_not_sent_on_retry(client, alice, visa, vipps_sandbox):
    attempt = pending_attempt(client, alice, visa, vipps_sandbox)
    type(visa).objects.filter(pk=visa.pk).update(expiry="2020-01")
    assert services.try_upstream_call(attempt.pk) == services.TryOutcome.FAILED
    attempt.refresh_from_db()
    assert attempt.error_code == "NOT_ELIGIBLE_CARD_EXPIRED"


def test_a_card_moved_to_another_holder_is_not_sent_for_the_old_one(
    client, alice, visa, vipps_sandbox
):
    attempt = pending_attempt(client, alice, visa, vipps_sandbox)
    other = CardholderFactory(user=UserFactory(username="dora"))
    type(visa).objects.filter(pk=visa.pk).update(cardholder=other)
    assert services.try_upstream_call(attempt.pk) == services.TryOutcome.FAILED
    attempt.refresh_from_db()
    assert attempt.error_code == "CARDHOLDER_CHANGED"


def test_blocking_a_card_cancels_its_in_flight_attempts(client, alice, visa, vipps_sandbox):
    attempt = pending_attempt(client, alice, visa, vipps_sandbox)
    block(visa)
    attempt.refresh_from_db()
    assert attempt.state == "failed" and attempt.error_code == "NOT_ELIGIBLE_CARD_BLOCKED"


def test_a_new_press_does_not_reuse_an_in_flight_attempt_of_a_blocked_card(
    client, alice, visa, vipps_sandbox
):
    client.force_login(alice.user)
    first = client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    assert first.status_code == 303  # link ready
    type(visa).objects.filter(pk=visa.pk).update(state=CardState.BLOCKED)
    again = client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    assert again.status_code == 403
    assert "blocked" in again.content.decode()
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "failed", "the link of the blocked card is not handed out again"
    api = client.post(
        f"/api/v1/cards/{visa.public_id}/provisioning/", content_type="application/json"
    )
    assert api.status_code == 403 and api.json()["code"] == "not_eligible"


def test_staff_cannot_retry_an_attempt_of_a_card_that_was_blocked(
    client, alice, visa, vipps_sandbox
):
    vipps_sandbox.faults.append("400")
    client.force_login(alice.user)
    client.post(f"/cards/{visa.public_id}/provision/", HTTP_USER_AGENT=PHONE)
    attempt = ProvisioningAttempt.objects.get()
    assert attempt.state == "failed"
    type(visa).objects.filter(pk=visa.pk).update(state=CardState.BLOCKED)
    with pytest.raises(DomainError, match="may no longer be added") as refused:
        services.retry_failed_attempt(attempt=attempt)
    assert refused.value.code == ErrorCode.NOT_ELIGIBLE
    attempt.refresh_from_db()
    assert attempt.state == "failed"


def test_the_domain_speaks_no_http():
    """Refusals carry a code, never a status; channels map codes in one place each."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    channels = {"admin.py", "views.py", "urls.py"}
    domain = [
        path.relative_to(root)
        for package in ("provisioning", "tokens", "issuer_portal/cards")
        for path in (root / package).glob("*.py")
        if path.name not in channels
    ]
    assert len(domain) > 20
    for module in domain:
        source = (root / module).read_text()
        for http in ("Http404", "status=4", "status=5", "reverse(", "django.http"):
            assert http not in source, f"{module} mentions {http}"

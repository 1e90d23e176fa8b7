"""Push provisioning's services, the one import for channels (web, API, admin, tasks).

Each job lives in its own module; this module only gathers their public functions:
- ``starting``: start (or reuse) an attempt, the rate limit, offers for the funnel;
- ``upstream_call``: one claimed call to Vipps, and the first try while the user waits;
- ``retry_policy``: backoff, limits and queueing of retries;
- ``lifecycle``: the card rules until the last moment, fail/expire/give up, returns, the sweeper,
  user messages, staff retry and cancel;
- ``links``: signed, expiring return links and the NFC-enrollment link.
"""

from provisioning.lifecycle import (
    CARDHOLDER_CHANGED,
    NOT_ELIGIBLE_PREFIX,
    NextStep,
    cancel_in_flight_attempts,
    cancel_pending_attempt,
    expire_attempt,
    fail_attempt,
    give_up,
    mark_returned,
    next_step_after_failure,
    refusal_code,
    retry_failed_attempt,
    sweep_attempts,
    user_message,
)
from provisioning.links import (
    NFC_RETURN_PATH,
    RETURN_LINK_MAX_AGE,
    RETURN_PATH,
    attempt_for_return,
    card_for_nfc_return,
    nfc_enrollment_link,
    nfc_return_url_for,
    return_url_for,
)
from provisioning.retry_policy import may_retry, plan_retry, retry_delay, schedule_retry
from provisioning.starting import cards_on_offer, record_offers, start_provisioning
from provisioning.upstream_call import (
    TryOutcome,
    provision_now_or_later,
    try_upstream_call,
    wait_for_vipps_slot,
)

__all__ = [
    "CARDHOLDER_CHANGED",
    "NFC_RETURN_PATH",
    "NOT_ELIGIBLE_PREFIX",
    "RETURN_LINK_MAX_AGE",
    "RETURN_PATH",
    "NextStep",
    "TryOutcome",
    "attempt_for_return",
    "cancel_in_flight_attempts",
    "cancel_pending_attempt",
    "card_for_nfc_return",
    "cards_on_offer",
    "expire_attempt",
    "fail_attempt",
    "give_up",
    "mark_returned",
    "may_retry",
    "next_step_after_failure",
    "nfc_enrollment_link",
    "nfc_return_url_for",
    "plan_retry",
    "provision_now_or_later",
    "record_offers",
    "refusal_code",
    "retry_delay",
    "retry_failed_attempt",
    "return_url_for",
    "schedule_retry",
    "start_provisioning",
    "sweep_attempts",
    "try_upstream_call",
    "user_message",
    "wait_for_vipps_slot",
]

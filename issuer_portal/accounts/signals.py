"""Every sign-in, successful or not, is audited and feeds the per-username failure ceiling."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from issuer_portal.accounts.identity_provider import staff_client_settings
from issuer_portal.accounts.lockout import count_username_failure, forget_username_failures
from issuer_portal.accounts.provider_sessions import forget_provider_session
from issuer_portal.core.audit import record_audit
from issuer_portal.core.step_up import note_fresh_authentication

security_log = logging.getLogger("issuer_portal.security")


def signed_in(sender: object, request: object, user: object, **kwargs: object) -> None:
    forget_username_failures(user.get_username())
    if request is not None:
        note_fresh_authentication(request)
    break_glass = (
        staff_client_settings() is not None
        and user.get_username() in settings.STAFF_BREAK_GLASS_USERNAMES
    )
    if break_glass:
        security_log.warning("break-glass account signed in: %s", user.get_username())
    record_audit(
        "auth.sign_in",
        obj=user,
        object_id=user.get_username(),
        actor=user,
        request=request,
        details={"break_glass": True} if break_glass else None,
    )


def sign_in_failed(
    sender: object, credentials: dict, request: object = None, **kwargs: object
) -> None:
    # Only the username: Django has already replaced the password with stars.
    count_username_failure(str(credentials.get("username", "")))
    record_audit(
        "auth.sign_in",
        outcome="failure",
        object_type="auth.user",
        object_id=str(credentials.get("username", ""))[:64],
        request=request,
    )


def signed_out(sender: object, request: object = None, **kwargs: object) -> None:
    # Before the session is flushed: back-channel logout has nothing left to end.
    session = getattr(request, "session", None)
    forget_provider_session(getattr(session, "session_key", None))


def connect_sign_in_receivers() -> None:
    user_logged_in.connect(signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(signed_out, dispatch_uid="forget-provider-session")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit-sign-in-failed")

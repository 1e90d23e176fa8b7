"""Sign-in through the bank's identity providers: cardholders at /oidc/callback/, staff at
/admin/oidc/callback/, back-channel logout at /oidc/backchannel-logout/.

Every refusal is logged as a security event with a reason code (never a token, code or claim
value), audited, and answered with a plain page in the person's language.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from issuer_portal.accounts import identities
from issuer_portal.accounts.identity_provider import (
    ClientSettings,
    IdentityProviderUnavailable,
    SignInRefused,
    cardholder_client_settings,
    claims_from_callback,
    end_session_url,
    redirect_to_provider,
    staff_client_settings,
)
from issuer_portal.accounts.next_url import safe_next
from issuer_portal.accounts.provider_sessions import (
    end_provider_sessions,
    logout_token_claims,
    remember_provider_session,
)
from issuer_portal.core.audit import record_audit
from issuer_portal.core.step_up import SIGNED_IN_BY, note_authenticated_at

security_log = logging.getLogger("issuer_portal.security")

# Where each sign-in was headed, by its state: {"next": path, "step_up": bool}.
FLOW_PREFIX = "_provider_flow:"
BY_CARDHOLDER_PROVIDER = "oidc"
BY_STAFF_PROVIDER = "staff_oidc"
_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL + path


def _refused(
    request: HttpRequest, *, client: str, reason: str, template: str, status: int
) -> HttpResponse:
    security_log.warning("sign-in refused: client=%s reason=%s", client, reason)
    record_audit(
        "auth.sign_in",
        outcome="refused",
        object_type="auth.user",
        details={"via": client, "reason": reason},
        request=request,
    )
    return render(request, template, {"reason": reason}, status=status)


def _unavailable(request: HttpRequest, *, retry_url: str) -> HttpResponse:
    return render(
        request, "registration/provider_unavailable.html", {"retry_url": retry_url}, status=503
    )


def _start(
    request: HttpRequest,
    config: ClientSettings,
    *,
    callback: str,
    next_url: str,
    step_up: bool = False,
    **extra: Any,
) -> HttpResponse:
    try:
        response, state = redirect_to_provider(
            request, config, redirect_uri=_absolute(reverse(callback)), **extra
        )
    except IdentityProviderUnavailable:
        return _unavailable(request, retry_url=request.get_full_path())
    request.session[FLOW_PREFIX + state] = {"next": next_url, "step_up": step_up}
    return response


def _flow_for(request: HttpRequest) -> dict[str, Any] | None:
    state = request.GET.get("state", "")
    if not state or len(state) > 200:
        return None
    flow = request.session.pop(FLOW_PREFIX + state, None)
    return flow if isinstance(flow, dict) else None


def _callback_answer(
    request: HttpRequest, config: ClientSettings, *, client: str, template: str, retry_url: str
) -> tuple[dict[str, Any], dict[str, Any]] | HttpResponse:
    """The validated claims and where the sign-in was headed, or the page that refuses it."""
    flow = _flow_for(request)
    try:
        claims = claims_from_callback(request, config)
    except IdentityProviderUnavailable:
        return _unavailable(request, retry_url=retry_url)
    except SignInRefused as refused:
        return _refused(
            request, client=client, reason=refused.reason, template=template, status=400
        )
    if flow is None:
        return _refused(
            request, client=client, reason="unknown_flow", template=template, status=400
        )
    return claims, flow


# Cardholders ------------------------------------------------------------------------------------


def start_cardholder_sign_in(
    request: HttpRequest, config: ClientSettings, next_url: str
) -> HttpResponse:
    return _start(request, config, callback="oidc-callback", next_url=next_url)


def start_cardholder_step_up(
    request: HttpRequest, config: ClientSettings, next_url: str
) -> HttpResponse:
    """Ask the provider again: an authentication younger than STEP_UP_MAX_AGE_SECONDS, at
    OIDC_STEP_UP_ACR when that is set."""
    return _start(
        request,
        config,
        callback="oidc-callback",
        next_url=next_url,
        step_up=True,
        max_age=settings.STEP_UP_MAX_AGE_SECONDS,
        acr_values=settings.OIDC_STEP_UP_ACR,
    )


def _authenticated_at(claims: dict[str, Any]) -> float | None:
    """When the person last proved who they are, if that counts for step-up (the ACR asked for,
    when one is)."""
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
        return None
    if settings.OIDC_STEP_UP_ACR and claims.get("acr") != settings.OIDC_STEP_UP_ACR:
        return None
    return float(auth_time)


@never_cache
@require_GET
def cardholder_callback(request: HttpRequest) -> HttpResponse:
    config = cardholder_client_settings()
    if config is None:
        raise Http404
    answer = _callback_answer(
        request,
        config,
        client="cardholder",
        template="registration/sign_in_refused.html",
        retry_url=reverse("login"),
    )
    if isinstance(answer, HttpResponse):
        return answer
    claims, flow = answer
    account = identities.cardholder_account_for_claims(claims)
    authenticated_at = _authenticated_at(claims)
    if flow["step_up"]:
        if account is None or account.pk != request.user.pk:
            return _refused(
                request,
                client="cardholder",
                reason="step_up_other_person",
                template="registration/sign_in_refused.html",
                status=403,
            )
        fresh = (
            authenticated_at is not None
            and time.time() - authenticated_at
            <= settings.STEP_UP_MAX_AGE_SECONDS + settings.OIDC_LEEWAY_SECONDS
        )
        if not fresh:
            return _refused(
                request,
                client="cardholder",
                reason="step_up_not_fresh",
                template="registration/sign_in_refused.html",
                status=403,
            )
        note_authenticated_at(request, authenticated_at)
        record_audit("auth.step_up", obj=account, object_id=account.get_username())
        return HttpResponseRedirect(flow["next"])
    if account is None:
        if request.user.is_authenticated:
            logout(request)
        security_log.info("sign-in: no cardholder for this person (client=cardholder)")
        record_audit(
            "auth.sign_in",
            outcome="unknown_person",
            object_type="auth.user",
            details={"via": "cardholder"},
            request=request,
        )
        return render(request, "registration/no_cards.html", status=403)
    login(request, account, backend=_MODEL_BACKEND)
    # The sign-in signal noted "now"; what counts for step-up is when the provider saw them.
    note_authenticated_at(request, authenticated_at)
    request.session[SIGNED_IN_BY] = BY_CARDHOLDER_PROVIDER
    remember_provider_session(request, issuer=str(claims.get("iss", "")), claims=claims)
    return HttpResponseRedirect(flow["next"])


def end_session_redirect() -> str | None:
    """Where a cardholder signed in through the provider goes after signing out here."""
    config = cardholder_client_settings()
    if config is None:
        return None
    return end_session_url(config, post_logout_redirect_uri=_absolute(reverse("signed-out")))


@never_cache
@csrf_exempt  # the provider posts it, server to server; the signed token is the proof
@require_POST
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    config = cardholder_client_settings()
    if config is None:
        raise Http404
    try:
        claims = logout_token_claims(config, request.POST.get("logout_token", ""))
    except IdentityProviderUnavailable:
        return JsonResponse({"error": "temporarily_unavailable"}, status=503)
    except SignInRefused as refused:
        security_log.warning("back-channel logout refused: reason=%s", refused.reason)
        record_audit(
            "auth.backchannel_logout",
            outcome="refused",
            object_type="auth.session",
            details={"reason": refused.reason},
            request=request,
        )
        return JsonResponse({"error": "invalid_request"}, status=400)
    ended = end_provider_sessions(
        issuer=str(claims["iss"]),
        sid=str(claims.get("sid", "")),
        subject=str(claims.get("sub", "")),
    )
    record_audit(
        "auth.backchannel_logout",
        object_type="auth.session",
        details={"sessions_ended": ended},
        request=request,
    )
    response = HttpResponse(status=200)
    response["Cache-Control"] = "no-store"
    return response


# Staff ------------------------------------------------------------------------------------------


@never_cache
@require_GET
def staff_start(request: HttpRequest) -> HttpResponse:
    config = staff_client_settings()
    if config is None:
        raise Http404
    return _start(
        request,
        config,
        callback="staff-oidc-callback",
        next_url=safe_next(request, default=reverse("admin:index")),
        acr_values=" ".join(settings.STAFF_OIDC_REQUIRED_ACR),
    )


@never_cache
@require_GET
def staff_callback(request: HttpRequest) -> HttpResponse:
    config = staff_client_settings()
    if config is None:
        raise Http404
    answer = _callback_answer(
        request,
        config,
        client="staff",
        template="admin/sso_refused.html",
        retry_url=reverse("staff-oidc-start"),
    )
    if isinstance(answer, HttpResponse):
        return answer
    claims, flow = answer
    try:
        user = identities.staff_account_for_claims(claims, issuer=str(claims.get("iss", "")))
    except identities.StaffAccessRefused as refused:
        if request.user.is_authenticated:
            logout(request)
        return _refused(
            request,
            client="staff",
            reason=refused.reason,
            template="admin/sso_refused.html",
            status=403,
        )
    login(request, user, backend=_MODEL_BACKEND)
    # The directory enforced the bank's multi-factor policy: the local second factor is not asked.
    request.session[SIGNED_IN_BY] = BY_STAFF_PROVIDER
    remember_provider_session(request, issuer=str(claims.get("iss", "")), claims=claims)
    return HttpResponseRedirect(flow["next"])

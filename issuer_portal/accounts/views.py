"""Signing in (the password form, or the bank's identity provider when one is configured),
signing out, and confirming who you are again (step-up) before a sensitive action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from issuer_portal.accounts import provider_views
from issuer_portal.accounts.identity_provider import cardholder_client_settings
from issuer_portal.accounts.next_url import safe_next
from issuer_portal.core.audit import record_audit
from issuer_portal.core.step_up import SIGNED_IN_BY, note_fresh_authentication


def _safe_next(request: HttpRequest) -> str:
    return safe_next(request, default=reverse("portal:card-list"))


class SignInView(LoginView):
    """The password form, or, with a cardholder client configured, straight to the provider
    (the password form is then off for cardholders)."""

    redirect_authenticated_user = True

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        config = cardholder_client_settings()
        if config is None:
            return super().dispatch(request, *args, **kwargs)
        if request.user.is_authenticated:
            return HttpResponseRedirect(_safe_next(request))
        return provider_views.start_cardholder_sign_in(request, config, _safe_next(request))


class SignOutView(LogoutView):
    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        by_provider = request.session.get(SIGNED_IN_BY) == provider_views.BY_CARDHOLDER_PROVIDER
        response = super().post(request, *args, **kwargs)
        if by_provider and (end_session := provider_views.end_session_redirect()):
            # The provider's session ends too, or the next visit would sign them straight in.
            return HttpResponseRedirect(end_session)
        if cardholder_client_settings() is not None:
            return HttpResponseRedirect(reverse("signed-out"))
        if was_signed_in:
            messages.success(request, _("You are signed out."))
        return response


@never_cache
def signed_out(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the browser after signing out (the post-logout redirect URI)."""
    return render(request, "registration/signed_out.html")


@never_cache
@login_required
def confirm_identity(request: HttpRequest) -> HttpResponse:
    """The password again, for the signed-in person; failures count towards the lockout like
    any sign-in (the authentication backends see them)."""
    next_url = _safe_next(request)
    if (config := cardholder_client_settings()) is not None:
        return provider_views.start_cardholder_step_up(request, config, next_url)
    error = ""
    if request.method == "POST":
        user = authenticate(
            request,
            username=request.user.get_username(),
            password=request.POST.get("password", ""),
        )
        if user is not None and user.pk == request.user.pk:
            note_fresh_authentication(request)
            record_audit("auth.step_up", obj=request.user, object_id=user.get_username())
            return HttpResponseRedirect(next_url)
        record_audit(
            "auth.step_up",
            outcome="failure",
            object_type="auth.user",
            object_id=request.user.get_username(),
        )
        error = _("That password is not right. Please try again.")
    return render(
        request,
        "registration/confirm_identity.html",
        {"next": next_url, "error": error},
        status=400 if error else 200,
    )

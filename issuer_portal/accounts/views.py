"""Signing out says so: the next page (the sign-in form) confirms it. Confirming who you are
again (step-up) before a sensitive action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from issuer_portal.core.audit import record_audit
from issuer_portal.core.step_up import note_fresh_authentication


class SignOutView(LogoutView):
    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        was_signed_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_signed_in:
            messages.success(request, _("You are signed out."))
        return response


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("portal:card-list")


@never_cache
@login_required
def confirm_identity(request: HttpRequest) -> HttpResponse:
    """The password again, for the signed-in person; failures count towards the lockout like
    any sign-in (the authentication backends see them)."""
    next_url = _safe_next(request)
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

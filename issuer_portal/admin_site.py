"""The admin site with an optional TOTP second factor (django-otp).

Staff who enrolled a TOTP device must give its code; with ADMIN_REQUIRE_OTP on, every staff
member must (and without a device cannot enter admin). Lockout after failed sign-ins (axes)
applies as everywhere.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin


class AdminOTPAuthenticationForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=False,
        label=_("Authenticator code"),
        help_text=_("Only if you set up an authenticator app."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    def _chosen_device(self, user: Any) -> Any:
        # The admin login shows no device list: a user's single authenticator is the choice.
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, confirmed=True))
            if len(devices) == 1:
                device = devices[0]
        return device

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and (settings.ADMIN_REQUIRE_OTP or user_has_device(user)):
            self.clean_otp(user)
        return cleaned


class IssuerAdminSite(admin.AdminSite):
    login_form = AdminOTPAuthenticationForm
    site_header = _("Issuer portal administration")

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        verified = getattr(user, "is_verified", lambda: False)()
        if settings.ADMIN_REQUIRE_OTP or user_has_device(user):
            return verified
        return True

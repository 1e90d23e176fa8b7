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
from django.contrib.admin.filters import SimpleListFilter
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin

from issuer_portal.accounts.identity_provider import staff_client_settings
from issuer_portal.accounts.provider_views import BY_STAFF_PROVIDER
from issuer_portal.core.step_up import SIGNED_IN_BY


class AdminOTPAuthenticationForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        required=False,
        label=_("Authenticator code"),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "aria-describedby": "id_otp_token_helptext",
            }
        ),
    )
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["otp_token"].help_text = (
            _("The 6-digit code from your authenticator app.")
            if settings.ADMIN_REQUIRE_OTP
            else _("Only if you set up an authenticator app.")
        )

    def _chosen_device(self, user: Any) -> Any:
        # The admin login shows no device list: a user's single authenticator is the choice.
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, confirmed=True))
            if len(devices) == 1:
                device = devices[0]
        return device

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if (
            staff_client_settings() is not None
            and username not in settings.STAFF_BREAK_GLASS_USERNAMES
        ):
            # With staff single sign-on on, local passwords are for the break-glass account only.
            raise forms.ValidationError(
                _("Staff sign in with single sign-on. This form is for the break-glass account."),
                code="single_sign_on_only",
            )
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and (settings.ADMIN_REQUIRE_OTP or user_has_device(user)):
            self.clean_otp(user)
        return cleaned


class ShownFiltersOnlyAdmin(admin.ModelAdmin):
    """Changelists accept query-string filters only on what they offer as filters.

    Django allows any lookup on a model's own fields (``?token_reference__startswith=DN``), which
    reveals hidden values by bisection. Here a lookup must name a field of ``list_filter`` or
    ``date_hierarchy`` (or the pk behind a related one), a SimpleListFilter's parameter, or one
    of ``extra_allowed_lookups``; anything else is refused (HTTP 400).
    """

    def _offered_filters(self, request: HttpRequest | None) -> set[str]:
        offered = {self.date_hierarchy} if self.date_hierarchy else set()
        filters = self.get_list_filter(request) if request is not None else self.list_filter
        for item in filters:
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                offered.add(item.parameter_name)
            elif isinstance(item, list | tuple):
                offered.add(item[0])
            else:
                offered.add(item)
        return offered

    def _field_path(self, lookup: str) -> list[str]:
        """The field names a lookup walks through (``card__network__exact`` → card, network)."""
        path: list[str] = []
        model = self.model
        for part in lookup.split(LOOKUP_SEP):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                break
            path.append(part)
            if not field.is_relation or field.related_model is None:
                break
            model = field.related_model
        return path

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Read from the concrete admin: this class stands first in the MRO of wrapped admins.
        if lookup in getattr(self, "extra_allowed_lookups", ()):
            return True
        offered = self._offered_filters(request)
        path = self._field_path(lookup)
        joined = LOOKUP_SEP.join(path)
        shown = lookup in offered or (path and joined in offered)
        # A related filter's own parameter is the related pk: card__id__exact for "card".
        if not shown and len(path) >= 2:
            parent = LOOKUP_SEP.join(path[:-1])
            related = self.model
            for name in path[:-1]:
                related = related._meta.get_field(name).related_model
            shown = parent in offered and path[-1] == related._meta.pk.name
        return bool(shown) and super().lookup_allowed(lookup, value, request)


class IssuerAdminSite(admin.AdminSite):
    login_form = AdminOTPAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        context = {"staff_single_sign_on": staff_client_settings() is not None}
        return super().login(request, {**context, **(extra_context or {})})

    site_header = _("Issuer portal administration")
    site_title = _("Issuer portal administration")
    # The app list stays on the home page: on a 1280 px laptop the tables need the width.
    enable_nav_sidebar = False

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every admin, ours and third-party ones (auth, axes, otp), refuses hidden filters."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ShownFiltersOnlyAdmin):
            admin_class = type(
                admin_class.__name__,
                (ShownFiltersOnlyAdmin, admin_class),
                {"__module__": admin_class.__module__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        if request.session.get(SIGNED_IN_BY) == BY_STAFF_PROVIDER:
            # The directory applied the bank's multi-factor policy (STAFF_OIDC_REQUIRED_*).
            return True
        verified = getattr(user, "is_verified", lambda: False)()
        if settings.ADMIN_REQUIRE_OTP or user_has_device(user):
            return verified
        return True

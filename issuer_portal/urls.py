from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from issuer_portal import monitoring
from issuer_portal.accounts import provider_views
from issuer_portal.accounts.views import SignInView, SignOutView, confirm_identity, signed_out

urlpatterns = [
    path("", include("issuer_portal.web.urls")),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/signed-out/", signed_out, name="signed-out"),
    path("accounts/confirm/", confirm_identity, name="confirm-identity"),
    # The bank's identity providers: the URIs a bank registers (README, "Connecting your
    # identity provider").
    path("oidc/callback/", provider_views.cardholder_callback, name="oidc-callback"),
    path(
        "oidc/backchannel-logout/",
        provider_views.backchannel_logout,
        name="oidc-backchannel-logout",
    ),
    path("admin/oidc/start/", provider_views.staff_start, name="staff-oidc-start"),
    path("admin/oidc/callback/", provider_views.staff_callback, name="staff-oidc-callback"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("issuer_portal.api.urls")),
    path("tokens/", include("tokens.urls")),
    path("healthz", monitoring.healthz, name="healthz"),
    path("readyz", monitoring.readyz, name="readyz"),
    path("metrics", monitoring.metrics, name="metrics"),
    # Deprecated admin addresses from before the cards and audit log got apps of their own
    # (bookmarks, runbooks): redirected permanently; to be removed in the next major version.
    re_path(
        r"^admin/issuer_portal/(?P<model>card|cardholder)/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/cards/%(model)s/%(rest)s", query_string=True, permanent=True
        ),
    ),
    re_path(
        r"^admin/issuer_portal/auditentry/(?P<rest>.*)$",
        RedirectView.as_view(
            url="/admin/core/auditentry/%(rest)s", query_string=True, permanent=True
        ),
    ),
    path("admin/", admin.site.urls),
]

if settings.VIPPS_SANDBOX:
    # The sandbox's "Vipps app" pages exist only while the sandbox stands in for Vipps.
    urlpatterns.append(path("sandbox/vipps/", include("provisioning.sandbox.urls")))

handler404 = "issuer_portal.web.errors.not_found"
handler500 = "issuer_portal.web.errors.server_error"

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from issuer_portal import monitoring
from issuer_portal.accounts.views import SignOutView, confirm_identity

urlpatterns = [
    path("", include("issuer_portal.web.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/confirm/", confirm_identity, name="confirm-identity"),
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

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from issuer_portal import views

portal_patterns = (
    [
        path("", views.card_list, name="card-list"),
        path("<uuid:card_id>/", views.card_detail, name="card-detail"),
    ],
    "portal",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("cards/", include(portal_patterns)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("issuer_portal.api.urls")),
    path("", include("provisioning.urls")),
    path("tokens/", include("tokens.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

if settings.VIPPS_SANDBOX:
    # The sandbox's "Vipps app" pages exist only while the sandbox stands in for Vipps.
    urlpatterns.append(path("sandbox/vipps/", include("provisioning.sandbox.urls")))

handler404 = "issuer_portal.views.not_found"
handler500 = "issuer_portal.views.server_error"

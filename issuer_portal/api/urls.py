from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from issuer_portal.api import reference, views


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our own static files; its inline styles need a looser style-src."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; object-src 'none'; frame-ancestors 'none'"
        )
        return response


app_name = "api"
urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="token"),
    path("cards/", views.CardListView.as_view(), name="cards"),
    path("cards/<uuid:card_id>/", views.CardDetailView.as_view(), name="card"),
    path(
        "cards/<uuid:card_id>/provisioning/",
        views.StartProvisioningView.as_view(),
        name="start-provisioning",
    ),
    path("cards/<uuid:card_id>/nfc-link/", views.NfcLinkView.as_view(), name="nfc-link"),
    path("cards/<uuid:card_id>/tokens/", views.CardTokenListView.as_view(), name="card-tokens"),
    path("card-events/", views.CardEventView.as_view(), name="card-events"),
    *[
        path(
            f"cards/<uuid:card_id>/tokens/<uuid:token_id>/{action}/",
            view.as_view(),
            name=f"card-token-{action}",
        )
        for action, view in views.TOKEN_CHANGE_VIEWS.items()
    ],
    path("provisioning/<uuid:attempt_id>/", views.AttemptView.as_view(), name="attempt"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The reference page (plain HTML, accessible); Swagger UI beside it for trying requests.
    path("docs/", reference.reference_page, name="docs"),
    path("docs/try/", DocsView.as_view(url_name="api:schema"), name="docs-try"),
]

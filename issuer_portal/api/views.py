"""API views for the bank's mobile app: thin, over the same services as the web portal."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from issuer_portal.api.authentication import CardEventsClient, CardEventsKeyAuthentication
from issuer_portal.api.errors import ApiError
from issuer_portal.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from issuer_portal.api.idempotency import idempotent
from issuer_portal.api.serializers import (
    AttemptSerializer,
    CardEventRequestSerializer,
    CardEventSerializer,
    CardSerializer,
    ErrorSerializer,
    NfcLinkSerializer,
    ProvisioningRequestSerializer,
    TokenChangeRequestSerializer,
    TokenChangeSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    TokenSerializer,
)
from issuer_portal.cards import selectors
from issuer_portal.cards.models import Card, Cardholder
from issuer_portal.core.audit import record_audit
from provisioning import services
from provisioning.models import AttemptState, Channel
from provisioning.selectors import attempt_for_cardholder
from tokens import lifecycle
from tokens.card_events import apply_card_event
from tokens.models import Actor, ChangeState
from tokens.selectors import token_view, token_views
from tokens.services import wallet_state_for_card


def _error(description: str, code: str, message: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value={"code": code, "message": message, "details": None})],
    )


UNAUTHENTICATED = _error(
    "Missing, invalid or expired credentials.", "unauthenticated", "Invalid or expired token."
)
NOT_FOUND = _error("No such card for this caller.", "not_found", "Not found.")
VALIDATION = _error("The request is not valid.", "validation_error", "The request is not valid.")
CARD_ID = OpenApiParameter("card_id", type=uuid.UUID, location=OpenApiParameter.PATH)
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Replays the first response for the same key and body (24 h).",
)
CARD_EXAMPLE = OpenApiExample(
    "A Visa card in Vipps without contactless",
    value={
        "id": "5b0c7f52-2f0e-4b43-9a53-8d9c6c1e2a10",
        "network": "visa",
        "brand": "vipps",
        "product": "Visa Debit",
        "nickname": "Everyday card",
        "last4": "1111",
        "expiry": "2029-08",
        "state": "active",
        "walletStatus": "added",
        "eligible": True,
        "ineligibility": None,
        "actions": ["nfc_enroll"],
        "nfcActionIsSecondary": False,
    },
)
ATTEMPT_EXAMPLE = OpenApiExample(
    "Link ready",
    value={
        "id": "0e7d3c9e-7a55-4f83-8f60-5f1a0e6f1b2c",
        "state": "link_ready",
        "universalLink": "https://qr.vipps.no/ps/provisioning/push/abc",
        "pollUrl": "/api/v1/provisioning/0e7d3c9e-7a55-4f83-8f60-5f1a0e6f1b2c/",
        "message": "Ready: continue in Vipps.",
        "createdAt": "2026-11-21T10:00:00+01:00",
    },
)


def _cardholder(request: Request) -> Cardholder | None:
    return selectors.cardholder_for_user(request.user)


class ObtainTokenView(APIView):
    """Exchange a username and password for an API token (demo and simple deployments)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="obtain_token",
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: VALIDATION,
            429: _error("Too many failed sign-ins.", "rate_limited", "Sign-in is paused."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if getattr(request._request, "axes_locked_out", False):
            raise ApiError(
                "rate_limited",
                "Too many failed sign-ins. Sign-in is paused for a while.",
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is not None and user.is_staff:
            # Staff enter admin with a second factor; a password alone buys no API token. The
            # answer is the wrong-password one, so the endpoint tells nothing about the password.
            record_audit("api.token_refused", outcome="failure", obj=user, actor=user)
            user = None
        if user is None:
            raise ApiError(
                "invalid_credentials",
                "Username or password is wrong.",
                details={"non_field_errors": ["invalid credentials"]},
            )
        _, token = AuthToken.objects.create(user)
        return Response({"token": token})


class CardListView(APIView):
    @extend_schema(
        operation_id="list_cards",
        responses={200: CardSerializer(many=True), 401: UNAUTHENTICATED},
        examples=[CARD_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        """The caller's cards with their wallet status, eligibility and available actions."""
        cards = selectors.cardholder_with_cards(request.user)[1]
        states = services.cards_on_offer(cards=cards, channel=Channel.APP)
        return Response(CardSerializer(states, many=True).data)


class CardDetailView(APIView):
    @extend_schema(
        operation_id="get_card",
        parameters=[
            CARD_ID,
            OpenApiParameter(
                "refresh",
                bool,
                OpenApiParameter.QUERY,
                required=False,
                description="Ask the token service now instead of the short-lived cache "
                "(e.g. when the user returns from the wallet app).",
            ),
        ],
        responses={200: CardSerializer, 400: VALIDATION, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        examples=[CARD_EXAMPLE],
    )
    def get(self, request: Request, card_id: uuid.UUID) -> Response:
        card = selectors.card_of_user(request.user, card_id)
        refresh = request.query_params.get("refresh", "false").lower()
        if refresh not in ("true", "false") or len(request.query_params.getlist("refresh")) > 1:
            raise ApiError(
                "validation_error",
                "The request is not valid.",
                details={"refresh": ["Must be true or false."]},
            )
        refresh = refresh == "true"
        return Response(CardSerializer(wallet_state_for_card(card, use_cache=not refresh)).data)


class StartProvisioningView(APIView):
    @extend_schema(
        operation_id="start_provisioning",
        parameters=[
            CARD_ID,
            IDEMPOTENCY_KEY,
        ],
        request=ProvisioningRequestSerializer,
        responses={
            201: OpenApiResponse(AttemptSerializer, description="The attempt (link ready)."),
            202: OpenApiResponse(AttemptSerializer, description="Vipps is retried; poll pollUrl."),
            400: VALIDATION,
            401: UNAUTHENTICATED,
            403: _error("The card may not be added.", "not_eligible", "This card is blocked."),
            404: NOT_FOUND,
            409: _error(
                "The same Idempotency-Key is still being processed.",
                "idempotency_request_in_progress",
                "A request with this Idempotency-Key is still being processed.",
            ),
            422: _error(
                "The Idempotency-Key was used with another body.",
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request.",
            ),
            429: _error(
                "Too many starts; see Retry-After.",
                "rate_limited",
                "You have started many additions in a short time. Please wait a few minutes.",
            ),
            502: _error(
                "Vipps refused or failed permanently, or the token service cannot say now "
                "whether the card is in the app (try again after Retry-After).",
                "upstream_unavailable",
                "Vipps is not answering right now. Please try again in a few minutes.",
            ),
        },
        examples=[ATTEMPT_EXAMPLE],
    )
    @idempotent
    def post(self, request: Request, card_id: uuid.UUID) -> Response:
        """Start (or reuse) push provisioning of the card into Vipps / MobilePay."""
        card = selectors.card_of_user(request.user, card_id)
        cardholder = card.cardholder
        serializer = ProvisioningRequestSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        attempt = services.start_provisioning(
            cardholder=cardholder,
            card=card,
            channel=Channel.APP,
            app_return_url=serializer.validated_data.get("returnUrl") or "",
        )
        attempt = services.provision_now_or_later(attempt)
        if attempt.state in (AttemptState.FAILED, AttemptState.EXPIRED):
            raise ApiError(
                "upstream_unavailable",
                services.user_message(attempt),
                status_code=status.HTTP_502_BAD_GATEWAY,
                details={"attempt": str(attempt.public_id), "state": attempt.state},
            )
        code = status.HTTP_202_ACCEPTED if attempt.state == AttemptState.REQUESTED else 201
        return Response(AttemptSerializer(attempt).data, status=code)


class AttemptView(APIView):
    @extend_schema(
        operation_id="get_provisioning_attempt",
        parameters=[OpenApiParameter("attempt_id", type=uuid.UUID, location=OpenApiParameter.PATH)],
        responses={200: AttemptSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        examples=[ATTEMPT_EXAMPLE],
    )
    def get(self, request: Request, attempt_id: uuid.UUID) -> Response:
        """The attempt's state, its universal link when ready, and a user-safe message."""
        attempt = attempt_for_cardholder(_cardholder(request), attempt_id)
        return Response(AttemptSerializer(attempt).data)


class NfcLinkView(APIView):
    @extend_schema(
        operation_id="get_nfc_link",
        parameters=[CARD_ID],
        responses={
            200: NfcLinkSerializer,
            401: UNAUTHENTICATED,
            403: _error(
                "Contactless cannot be set up for this card.",
                "not_eligible",
                "Contactless cannot be set up for this card.",
            ),
            404: NOT_FOUND,
        },
    )
    def get(self, request: Request, card_id: uuid.UUID) -> Response:
        """The NFC-enrollment universal link, when the card's next action allows it."""
        card = selectors.card_of_user(request.user, card_id)
        url = services.nfc_enrollment_link(card=card, state=wallet_state_for_card(card))
        return Response({"url": url})


TOKEN_ID = OpenApiParameter("token_id", type=uuid.UUID, location=OpenApiParameter.PATH)
TOKEN_EXAMPLE = OpenApiExample(
    "An old Android, paused by the cardholder",
    value=[
        {
            "id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "kind": "nfc",
            "wallet": "Android",
            "deviceName": "Old Android",
            "platform": "Android",
            "status": "suspended",
            "since": "2026-12-02T08:15:00Z",
            "changedBy": "cardholder",
            "reason": "device_lost",
            "pendingAction": None,
            "actions": ["resume", "delete"],
        }
    ],
)


class CardTokenListView(APIView):
    @extend_schema(
        operation_id="list_card_tokens",
        parameters=[CARD_ID],
        responses={200: TokenSerializer(many=True), 401: UNAUTHENTICATED, 404: NOT_FOUND},
        examples=[TOKEN_EXAMPLE],
    )
    def get(self, request: Request, card_id: uuid.UUID) -> Response:
        """The card in the wallet app (``ecom``) and each phone with contactless (``nfc``), with
        status, since when, and the actions the cardholder may take now."""
        card = selectors.card_of_user(request.user, card_id)
        wallet_state_for_card(card)  # brings our copy of the tokens up to date
        views = token_views([card], viewer=Actor.CARDHOLDER)
        return Response(TokenSerializer(views, many=True).data)


TOKEN_CHANGE_SCHEMA = {
    "parameters": [
        CARD_ID,
        TOKEN_ID,
        IDEMPOTENCY_KEY,
    ],
    "request": TokenChangeRequestSerializer,
    "responses": {
        200: OpenApiResponse(TokenChangeSerializer, description="Done (or already so)."),
        202: OpenApiResponse(
            TokenChangeSerializer,
            description="The token service is not answering: retried; list the tokens later.",
        ),
        400: _error("Unknown reason.", "invalid", "reason must be one of ..."),
        401: UNAUTHENTICATED,
        404: _error("No such card or token for this caller.", "not_found", "Not found."),
        409: _error(
            "Not allowed now (e.g. resuming a token the bank suspended).",
            "conflict",
            "The bank paused this device. Contact the bank to resume it.",
        ),
        502: _error(
            "The token service refused the change.",
            "upstream_unavailable",
            "The card service could not make the change.",
        ),
    },
}


class CardTokenChangeView(APIView):
    """Suspend, resume or delete one token of the caller's card (``action_name``)."""

    action_name = ""

    def change(self, request: Request, card_id: uuid.UUID, token_id: uuid.UUID) -> Response:
        card = selectors.card_of_user(request.user, card_id)
        view = token_view(card, token_id, viewer=Actor.CARDHOLDER)
        if view is None:
            raise ApiError("not_found", "Not found.", status_code=status.HTTP_404_NOT_FOUND)
        serializer = TokenChangeRequestSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        change = lifecycle.request_token_change(
            token=view.token,
            action=self.action_name,
            reason=serializer.validated_data["reason"],
            actor=Actor.CARDHOLDER,
            user=request.user,
            try_now=True,
        )
        if change.state == ChangeState.FAILED:
            raise ApiError(
                "upstream_unavailable",
                "The card service could not make the change. Please try again later.",
                status_code=status.HTTP_502_BAD_GATEWAY,
                details={"change": str(change.public_id)},
            )
        code = status.HTTP_202_ACCEPTED if change.state == ChangeState.PENDING else 200
        return Response(TokenChangeSerializer(change).data, status=code)


def _token_change_post(action: str) -> Callable[..., Response]:
    @extend_schema(operation_id=f"{action}_card_token", **TOKEN_CHANGE_SCHEMA)
    @idempotent
    def post(
        self: CardTokenChangeView, request: Request, card_id: uuid.UUID, token_id: uuid.UUID
    ) -> Response:
        return self.change(request, card_id, token_id)

    post.__doc__ = f"{action.title()} one token of the caller's card, with a reason."
    return post


class CardTokenSuspendView(CardTokenChangeView):
    action_name = "suspend"
    post = _token_change_post("suspend")


class CardTokenResumeView(CardTokenChangeView):
    action_name = "resume"
    post = _token_change_post("resume")


class CardTokenDeleteView(CardTokenChangeView):
    action_name = "delete"
    post = _token_change_post("delete")


TOKEN_CHANGE_VIEWS = {
    "suspend": CardTokenSuspendView,
    "resume": CardTokenResumeView,
    "delete": CardTokenDeleteView,
}


class IsCardEventsClient(BasePermission):
    """Only the card management system's key, and only while one is configured."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not settings.CARD_EVENTS_API_KEY:
            raise ApiError(
                "not_configured",
                "Card events are not configured.",
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return isinstance(request.user, CardEventsClient)


def _card_by_id(card_id: uuid.UUID) -> Card:
    card = Card.objects.select_related("cardholder").filter(public_id=card_id).first()
    if card is None:
        raise ApiError("not_found", "No such card.", status_code=status.HTTP_404_NOT_FOUND)
    return card


class CardEventView(APIView):
    """Card events from the bank's card management system (machine to machine)."""

    authentication_classes = [CardEventsKeyAuthentication]
    permission_classes = [IsCardEventsClient]

    @extend_schema(
        operation_id="post_card_event",
        request=CardEventRequestSerializer,
        responses={
            202: OpenApiResponse(CardEventSerializer, description="Applied; token changes queued."),
            200: OpenApiResponse(CardEventSerializer, description="A repeat: nothing changed."),
            400: VALIDATION,
            401: UNAUTHENTICATED,
            404: _error("No such card.", "not_found", "No such card."),
            503: _error("No key configured.", "not_configured", "Card events are not configured."),
        },
    )
    def post(self, request: Request) -> Response:
        """A card blocked, active again, closed, or reissued (its tokens move to the new card).
        Idempotent by ``eventId``."""
        serializer = CardEventRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        card = _card_by_id(data["cardId"])
        new_card = _card_by_id(data["newCardId"]) if data.get("newCardId") else None
        event, created = apply_card_event(
            event_id=data["eventId"],
            card=card,
            kind=data["event"],
            reason=data.get("reason", ""),
            new_card=new_card,
            source="api",
        )
        event.replayed = not created
        return Response(
            CardEventSerializer(event).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        )

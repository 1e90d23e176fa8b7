"""The cardholder's pages: the card list and card page, "Add" and "Enable contactless"."""

from django.urls import include, path

from issuer_portal.web import cards, devices, wallet
from provisioning.services import NFC_RETURN_PATH, RETURN_PATH

card_patterns = (
    [
        path("", cards.card_list, name="card-list"),
        path("<uuid:card_id>/", cards.card_detail, name="card-detail"),
        path(
            "<uuid:card_id>/devices/<uuid:token_id>/<str:action>/",
            devices.change_device,
            name="device-change",
        ),
        path(
            "<uuid:card_id>/devices/changes/<uuid:change_id>/",
            devices.change_result,
            name="device-change-result",
        ),
        path("lost-phone/", devices.lost_phone, name="lost-phone"),
        path("lost-phone/done/", devices.lost_phone_result, name="lost-phone-result"),
    ],
    "portal",
)

# The paths of the links Vipps sends the cardholder back to are built by the domain (it signs
# them), so the routes here take them from there.
wallet_patterns = (
    [
        path("cards/<uuid:card_id>/provision/", wallet.start, name="start"),
        path("cards/<uuid:card_id>/nfc/", wallet.nfc, name="nfc"),
        path(
            NFC_RETURN_PATH.format(card_id="<uuid:card_id>"), wallet.nfc_returned, name="nfc-return"
        ),
        path("provisioning/<uuid:attempt_id>/", wallet.attempt_page, name="attempt"),
        path("provisioning/<uuid:attempt_id>/status/", wallet.attempt_status, name="status"),
        path(RETURN_PATH.format(attempt_id="<uuid:attempt_id>"), wallet.returned, name="return"),
    ],
    "provisioning",
)

urlpatterns = [
    path("", cards.home, name="home"),
    path("cards/", include(card_patterns)),
    path("", include(wallet_patterns)),
]

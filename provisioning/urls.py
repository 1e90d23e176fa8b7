from django.urls import path

from provisioning import views
from provisioning.services import NFC_RETURN_PATH, RETURN_PATH

app_name = "provisioning"
urlpatterns = [
    path("cards/<uuid:card_id>/provision/", views.start, name="start"),
    path("cards/<uuid:card_id>/nfc/", views.nfc, name="nfc"),
    path(NFC_RETURN_PATH.format(card_id="<uuid:card_id>"), views.nfc_returned, name="nfc-return"),
    path("provisioning/<uuid:attempt_id>/", views.attempt_page, name="attempt"),
    path("provisioning/<uuid:attempt_id>/status/", views.attempt_status, name="status"),
    path(RETURN_PATH.format(attempt_id="<uuid:attempt_id>"), views.returned, name="return"),
]

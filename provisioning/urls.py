from django.urls import path

from provisioning import views

app_name = "provisioning"
urlpatterns = [
    path("cards/<uuid:card_id>/provision/", views.start, name="start"),
    path("cards/<uuid:card_id>/nfc/", views.nfc, name="nfc"),
    path("cards/<uuid:card_id>/nfc/return/", views.nfc_returned, name="nfc-return"),
    path("provisioning/<uuid:attempt_id>/", views.attempt_page, name="attempt"),
    path("provisioning/<uuid:attempt_id>/status/", views.attempt_status, name="status"),
    path("provisioning/<uuid:attempt_id>/return/", views.returned, name="return"),
]

from django.urls import path

from provisioning.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("app/", views.app, name="app"),
    path("nfc/", views.nfc, name="nfc"),
]

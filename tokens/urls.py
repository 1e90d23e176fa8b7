from django.urls import path

from tokens import views

app_name = "tokens"
urlpatterns = [path("notifications/", views.token_notification, name="notifications")]

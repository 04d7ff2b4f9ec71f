from __future__ import annotations

from django.urls import path

from channels_ingest.accounts import views

app_name = "channels_accounts"
urlpatterns = [
    path("", views.index, name="index"),
    path("connect/<slug:provider>/", views.connect, name="connect"),
    path("<int:pk>/", views.account_detail, name="account"),
    path("<int:pk>/test/", views.check, name="test"),
    path("<int:pk>/pause/", views.pause, name="pause"),
    path("<int:pk>/resume/", views.resume, name="resume"),
    path("<int:pk>/remove/", views.remove, name="remove"),
]

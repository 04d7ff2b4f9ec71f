from __future__ import annotations

from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/status/", views.change_status, name="change_status"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path(
        "attachments/<int:pk>/inline/<str:token>/",
        views.attachment_inline,
        name="attachment_inline",
    ),
]

from __future__ import annotations

from django.urls import path

from tickets import order_views, views

app_name = "tickets"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/status/", views.change_status, name="change_status"),
    path("<int:pk>/orders/link/", order_views.link, name="link_order"),
    path("<int:pk>/orders/<int:order_pk>/unlink/", order_views.unlink, name="unlink_order"),
    path("<int:pk>/orders/<int:order_pk>/<str:action>/", order_views.order_action, name="order_action"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path(
        "attachments/<int:pk>/inline/<str:token>/",
        views.attachment_inline,
        name="attachment_inline",
    ),
]

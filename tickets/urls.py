from __future__ import annotations

from django.urls import path

from tickets import order_views, ticket_views, views
from tickets.inbox import views as inbox_views

app_name = "tickets"
urlpatterns = [
    path("", inbox_views.inbox, name="inbox"),
    path("bulk/", inbox_views.bulk, name="inbox_bulk"),
    path("views/save/", inbox_views.save_view, name="save_view"),
    path("views/<int:pk>/rename/", inbox_views.rename_view, name="rename_view"),
    path("views/<int:pk>/delete/", inbox_views.delete_view, name="delete_view"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/status/", views.change_status, name="change_status"),
    path("<int:pk>/assign/", ticket_views.assign, name="assign"),
    path("<int:pk>/priority/", ticket_views.set_priority, name="set_priority"),
    path("<int:pk>/tags/", ticket_views.set_tags, name="set_tags"),
    path("<int:pk>/merge/", ticket_views.merge, name="merge"),
    path("<int:pk>/messages/<int:message_pk>/split/", ticket_views.split, name="split"),
    path("<int:pk>/links/", ticket_views.link, name="link_ticket"),
    path("<int:pk>/links/<int:link_pk>/remove/", ticket_views.unlink, name="unlink_ticket"),
    path("<int:pk>/canned/", ticket_views.canned_search, name="canned_search"),
    path("<int:pk>/canned/<int:canned_pk>/", ticket_views.canned_preview, name="canned_preview"),
    path("<int:pk>/mentions/", ticket_views.mention_search, name="mention_search"),
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

from __future__ import annotations

from django.urls import path

from channels_ingest.widget import views

app_name = "widget"
urlpatterns = [
    path("<str:public_key>.js", views.loader, name="loader"),
    path("<str:public_key>/upload/", views.upload, name="upload"),
    path("<str:public_key>/files/<int:attachment_id>/", views.download, name="download"),
    path("agent/tickets/<int:ticket_id>/typing/", views.agent_typing, name="agent-typing"),
    path("demo/<slug:store_slug>/", views.demo_shop, name="demo"),
]

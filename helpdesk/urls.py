from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from helpdesk.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tickets.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tickets/", include("tickets.urls")),
    path("routing/", include("tickets.routing.urls")),
    path("hooks/", include("channels_ingest.urls")),
    path("shopify/", include("channels_ingest.adapters.shopify.urls")),
    path("metrics/", include("metrics.urls")),
    path("notifications/", include("tickets.sla.urls")),
    # Public: the customers' survey answer page, reached by a signed link.
    path("s/", include("surveys.urls")),
    path("", RedirectView.as_view(pattern_name="tickets:inbox", permanent=False), name="home"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

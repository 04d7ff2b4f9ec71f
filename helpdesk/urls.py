from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from helpdesk.health import healthz
from helpdesk.language import set_language

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before Django's own i18n URLs: the switcher also keeps the choice on the agent's profile.
    path("i18n/setlang/", set_language, name="set_agent_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tickets.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tickets/", include("tickets.urls")),
    path("routing/", include("tickets.routing.urls")),
    path("hooks/", include("channels_ingest.urls")),
    path("shopify/", include("channels_ingest.adapters.shopify.urls")),
    path("channels/", include("channels_ingest.accounts.urls")),
    # Public: the shop chat widget's script and uploads (checked per store's allowed origins).
    path("widget/", include("channels_ingest.widget.urls")),
    path("metrics/", include("metrics.urls")),
    path("notifications/", include("tickets.sla.urls")),
    # Public: the customers' survey answer page, reached by a signed link.
    path("s/", include("surveys.urls")),
    path("", RedirectView.as_view(pattern_name="tickets:inbox", permanent=False), name="home"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

"""URL map: the REST API under /api/, the admin, and the single-page app for everything else."""
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from annotation.api.health import health
from annotation.api.spa import spa_index

# A database connection error outside a view answers 503 too (annotation.api.unavailable).
handler500 = "annotation.api.unavailable.server_error_or_unavailable"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("annotation.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
    re_path(r"^(?!api/|admin/|static/).*$", spa_index, name="spa"),
]

"""URL map: the REST API under /api/, the admin, and the single-page app for everything else."""
from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from annotation.api.docs import ApiDocsView
from annotation.api.health import health
from annotation.api.spa import spa_index
from annotation.api.throttles import sign_in_limited

urlpatterns = [
    # Django's own sign-in forms count failed attempts with the API's sign-in endpoints.
    path("admin/login/", sign_in_limited(admin.site.login)),
    path("api-auth/login/", sign_in_limited(LoginView.as_view(template_name="rest_framework/login.html"))),
    path("admin/", admin.site.urls),
    path("api/health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("annotation.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
    re_path(r"^(?!api/|admin/|static/).*$", spa_index, name="spa"),
]

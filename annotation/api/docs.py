"""Swagger UI for the API at /api/docs/, from the pinned drf-spectacular-sidecar copy served with
the site's static files (no CDN), its start-up script a separate request (no inline script)."""
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView

from annotation.api.csp import content_security_policy


@method_decorator(content_security_policy, name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "annotation/api_docs.html"

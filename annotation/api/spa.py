"""Serves the built single-page app's index.html; its assets come from whitenoise."""
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from annotation.api.csp import content_security_policy


@content_security_policy
@ensure_csrf_cookie
def spa_index(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        return HttpResponse(
            "The web UI is not built yet: run `make frontend` (or `make run`). "
            "The REST API is at /api/ and its schema at /api/schema/.",
            content_type="text/plain",
            status=503,
        )
    return HttpResponse(index.read_text(encoding="utf-8"))

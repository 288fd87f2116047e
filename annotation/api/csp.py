"""The Content-Security-Policy of the pages Prefloop serves itself: the single-page app and the
API's Swagger UI. Scripts, styles and everything else load from this origin only; no inline script
or style runs, so markup slipped into the page (an XSS) cannot execute.

A decorator, not a site-wide middleware: Django's admin and DRF's browsable API use inline styles
and keep Django's defaults. (Django 6 has this built in; 5.2 does not, and a header is all it takes.)
"""
import functools

from django.conf import settings


def content_security_policy(view):
    """Adds settings.CONTENT_SECURITY_POLICY to the view's answers (unless it set one itself)."""

    @functools.wraps(view)
    def with_policy(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if settings.CONTENT_SECURITY_POLICY:
            response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    return with_policy

"""A direct way through the annotate loop's two endpoints for the requests scripts and the UI send
most: `POST` with a valid `Authorization: Token` header, a JSON body (or none) and an Accept
header that only JSON can satisfy.

DRF's request cycle (request wrapping, content negotiation, authenticator and permission
objects, response finalizing) cost ~0.25 ms of CPU per request here, a sixth of the whole
request. On this way the view's `fast_post` calls the same services and the answer is rendered by
the same JSONRenderer with the same headers (`Allow`, `Vary: Accept`); domain errors get the same
bodies. Everything else (session auth, a bad or missing token, form bodies, unparsable JSON,
bodies the serializer would coerce or refuse, the browsable API, OPTIONS) goes to the DRF view
unchanged, which answers as it always did.
"""
import functools
import json

from django.http import HttpResponse
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer

from annotation.api.authentication import token_user
from annotation.api.errors import domain_error_body
from annotation.errors import DomainError

_JSON_ONLY_ACCEPT = {"*/*", "application/json"}  # what DRF reads when Accept is absent: */*
_RENDERER = JSONRenderer()


class NotOnTheHotPath(Exception):
    """Raised by a `fast_post` that leaves the request to DRF (before any write happened)."""


def _token_holder(request):
    """The active user of a well-formed `Token` header, or None (DRF then answers, e.g. 401)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "token" or not parts[1].isascii():
        return None
    user, _ = token_user(parts[1], with_token=False)
    return user if user is not None and user.is_active else None


def json_body(request):
    """The parsed JSON body as DRF's JSONParser would give it; NotOnTheHotPath when DRF should decide."""
    if request.content_type != "application/json" or request.content_params.get("charset", "utf-8").lower() not in (
        "utf-8", "utf8"
    ):
        raise NotOnTheHotPath
    body = request.body
    if not body:
        raise NotOnTheHotPath
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise NotOnTheHotPath from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")  # DRF's strict JSON refuses NaN and Infinity


def json_response(view_class, data, status: int) -> HttpResponse:
    """What DRF's Response + JSONRenderer + APIView.finalize_response produce for `data`."""
    response = HttpResponse(_RENDERER.render(data) if data is not None else b"", status=status,
                            content_type="application/json")
    if data is None:
        del response["Content-Type"]  # DRF drops it for an empty body
    response["Allow"] = view_class.allowed_methods_header
    response["Vary"] = "Accept"
    return response


class HotPathMixin:
    """Serves eligible POSTs through `fast_post(request, user, **url_kwargs) -> (data, status)`."""

    @classmethod
    def as_view(cls, **initkwargs):
        drf_view = super().as_view(**initkwargs)
        cls.allowed_methods_header = ", ".join(cls().allowed_methods)
        if cls.throttle_classes or any(p is not IsAuthenticated for p in cls.permission_classes):
            # The direct way checks exactly "authenticated by token"; anything more is DRF's job.
            return drf_view

        def view(request, *args, **kwargs):
            if request.method != "POST" or request.META.get("HTTP_ACCEPT", "*/*") not in _JSON_ONLY_ACCEPT:
                return drf_view(request, *args, **kwargs)
            user = _token_holder(request)
            if user is None:
                return drf_view(request, *args, **kwargs)
            request.user = user
            try:
                data, status = cls.fast_post(request, user, **kwargs)
            except NotOnTheHotPath:
                return drf_view(request, *args, **kwargs)
            except DomainError as error:
                data, status = domain_error_body(error), error.http_status
            return json_response(cls, data, status)

        # Keeps what Django and drf-spectacular read from the DRF view (cls, initkwargs, csrf_exempt).
        return functools.update_wrapper(view, drf_view)

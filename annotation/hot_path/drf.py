"""A direct way through the annotate loop's two endpoints for the requests token clients (scripts,
annotation tools, load generators) send most: `POST` with a valid, unexpired `Authorization: Token`
header, a JSON body (or none) and an Accept header that only JSON can satisfy. (The web UI signs in
with a session and takes DRF's way.)

DRF's request cycle (request wrapping, content negotiation, authenticator and permission
objects, response finalizing) cost ~0.25 ms of CPU per request here, a sixth of the whole
request. On this way the view's `fast_post` calls the same services and the answer is rendered by
the same JSONRenderer with the same headers (`Allow`, `Vary: Accept`); domain errors get the same
bodies. Everything else (session auth, a bad or missing token, form bodies, unparsable JSON,
bodies the serializer would coerce or refuse, the browsable API, OPTIONS) goes to the DRF view
unchanged, which answers as it always did.
"""
import functools

from django.http import HttpResponse
from rest_framework.permissions import IsAuthenticated

from annotation.api.authentication import token_fresh, token_user
from annotation.api.errors import domain_error_body
from annotation.errors import DomainError
from annotation.hot_path.payloads import rendered_json
from annotation.hot_path.request_input import NotOnTheHotPath, token_key
from annotation.hot_path.sql_functions import sql_functions_enabled

_JSON_ONLY_ACCEPT = {"*/*", "application/json"}  # what DRF reads when Accept is absent: */*
# Set in the ASGI scope by the front (`annotation.hot_path.front`) on a request it sent to its SQL
# function and now hands to Django: the function said no already, so it is not asked again. A
# client cannot set it (it is no header); WSGI requests have no scope.
DEFERRED_BY_FRONT = "prefloop.hot_path.deferred"


def deferred_by_front(request) -> bool:
    """True for a request the ASGI front's SQL function already deferred (see `DEFERRED_BY_FRONT`)."""
    scope = getattr(request, "scope", None)
    return scope is not None and DEFERRED_BY_FRONT in scope


def _token_holder(key: str):
    """The active user holding the token, or None (DRF then answers 401)."""
    user, _ = token_user(key, with_token=False)
    return user if user is not None and user.is_active else None


def json_response(view_class, data, status: int) -> HttpResponse:
    """What DRF's Response + JSONRenderer + APIView.finalize_response produce for `data`."""
    response = HttpResponse(rendered_json(data), status=status, content_type="application/json")
    if data is None:
        del response["Content-Type"]  # DRF drops it for an empty body
    response["Allow"] = view_class.allowed_methods_header
    response["Vary"] = "Accept"
    return response


class HotPathMixin:
    """Serves eligible POSTs through `fast_post(request, user, **url_kwargs) -> (data, status)`.

    On PostgreSQL a view's `sql_post(request, token_key, **url_kwargs)` goes first: one SQL
    function call (`annotation.hot_path.sql_functions`); when it returns None the request takes the
    way above, as it would have without it. A request the ASGI front's function deferred already
    skips that call (`DEFERRED_BY_FRONT`).
    """

    sql_post = None

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
            key = token_key(request.META.get("HTTP_AUTHORIZATION", ""))
            if key is None or not token_fresh(key):  # unknown or expired: DRF answers 401
                return drf_view(request, *args, **kwargs)
            try:
                if cls.sql_post is not None and sql_functions_enabled() and not deferred_by_front(request):
                    answer = cls.sql_post(request, key, **kwargs)
                    if answer is not None:
                        return json_response(cls, *answer)
                user = _token_holder(key)
                if user is None:
                    return drf_view(request, *args, **kwargs)
                request.user = user
                data, status = cls.fast_post(request, user, **kwargs)
            except NotOnTheHotPath:
                return drf_view(request, *args, **kwargs)
            except DomainError as error:
                data, status = domain_error_body(error), error.http_status
            return json_response(cls, data, status)

        # Keeps what Django and drf-spectacular read from the DRF view (cls, initkwargs, csrf_exempt).
        return functools.update_wrapper(view, drf_view)

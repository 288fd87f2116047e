"""A database that cannot be reached answers 503 `{detail, code}` with Retry-After, never a 500.

While PostgreSQL restarts (or a network cut separates it from the web tier), every request that
touches it fails with psycopg's OperationalError or InterfaceError. Those are the server's state,
not a bug, and a client should retry: the annotate UI and scripts already retry a submit with its
client_id. The transaction the error interrupted was rolled back by PostgreSQL, so nothing of it
remains; Django closes the broken connection at the end of the request and opens a new one on the
next.
"""
import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.deprecation import MiddlewareMixin
from django.views.defaults import server_error

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait: a PostgreSQL restart or failover takes a few.
RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        {"detail": "The database is unavailable; try again in a few seconds.", "code": "database_unavailable"},
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Turns a view's database connection error into the 503 answer (see the module); sync and
    async like Django's own middleware, so the ASGI application needs no thread hop for it."""

    def process_exception(self, request, exception):
        if isinstance(exception, DATABASE_UNAVAILABLE):
            logger.warning("Database unavailable during %s %s: %s", request.method, request.path,
                           str(exception).strip()[:200])
            return database_unavailable_response()
        return None


def server_error_or_unavailable(request, *args, **kwargs):
    """`handler500`: the same 503 for a connection error raised outside a view (a middleware
    saving the session, say); Django's plain 500 page for anything else."""
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE):
        return database_unavailable_response()
    return server_error(request, *args, **kwargs)

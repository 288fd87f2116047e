"""Turns domain errors into 4xx answers with a message naming the problem; never a 500 for bad input."""
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import DomainError


def domain_error_body(exc: DomainError) -> dict:
    """`{detail, code, field?}`: the answer's body for a domain error."""
    body = {"detail": exc.message, "code": exc.code}
    if exc.field:
        body["field"] = exc.field
    return body


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(domain_error_body(exc), status=exc.http_status)
    if isinstance(exc, RecursionError):
        # The JSON parser gives up on absurdly nested bodies with RecursionError, not ValueError.
        return Response({"detail": "The request body is nested too deeply.", "code": "parse_error", "field": "body"},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        # DRF reads JSON and form bodies through `request.body`, which Django caps; Django's own
        # answer would be a bare HTML 400.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({"detail": f"The request body is larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                         "code": "too_large", "field": "body"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return drf_exception_handler(exc, context)

"""Downloading a project's data as JSON lines."""
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from annotation.errors import DomainError
from annotation.exporters import EXPORT_FORMATS, EXPORTERS
from annotation.permissions import TRAINING_ROLES, require_role
from annotation.selectors.projects import project_get_for_user


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` names the export format here, not DRF's renderer; errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportView(APIView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS), required=True)],
        responses={(200, "application/x-ndjson"): OpenApiTypes.BINARY},
        summary="Export JSONL: trl consensus pairs, hh transcripts or raw judgements (managers, engineers)",
    )
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        require_role(user=request.user, project=project, roles=TRAINING_ROLES, action="export data")
        fmt = request.query_params.get("format")
        if fmt not in EXPORT_FORMATS:
            raise DomainError(f"format must be one of {', '.join(EXPORT_FORMATS)}.", field="format")
        lines = EXPORTERS[fmt](project)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-{fmt}.jsonl"'
        return response

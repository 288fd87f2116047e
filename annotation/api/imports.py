"""Importing data into a project: a JSONL file (multipart) or a JSON list of records."""
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import ImportInputSerializer, ImportResultSerializer
from annotation.selectors.projects import project_get_for_user
from annotation.services.imports import import_run


class ImportView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=ImportInputSerializer, responses=ImportResultSerializer,
                   summary="Import hh / trl / prompts / tasks lines (managers); bad lines are reported")
    def post(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        data = ImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data.get("file")
        result = import_run(
            project=project,
            actor=request.user,
            format=data.validated_data["format"],
            raw=upload,  # streamed by the service, never read whole
            records=data.validated_data.get("records"),
            purpose=data.validated_data.get("purpose"),
        )
        return Response(result.as_dict())

"""`POST /api/projects/{id}/prefetch/` `{after}`: the task after the one being worked on."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import NextSerializer
from annotation.hot_path.payloads import assignment_payload
from annotation.selectors.projects import project_get_for_user
from annotation.services.prefetch import assignment_prefetch


class PrefetchInputSerializer(serializers.Serializer):
    after = serializers.IntegerField(help_text="The id of the assignment the annotator is working on.")


class PrefetchView(APIView):
    @extend_schema(
        request=PrefetchInputSerializer,
        responses={200: NextSerializer, 204: OpenApiResponse(description="Nothing else left, or `after` is not your live lease.")},
        summary="Lease the next task ahead of time (the same one again until the current one is done)",
    )
    def post(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        data = PrefetchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_prefetch(project=project, annotator=request.user,
                                         current_assignment_id=data.validated_data["after"])
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_payload(assignment=assignment))

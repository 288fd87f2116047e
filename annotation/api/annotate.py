"""The annotate loop: next task, judgement, skip, and undo (replace)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import (
    AssignmentSerializer,
    JudgementInputSerializer,
    JudgementSerializer,
    NextSerializer,
    SkipInputSerializer,
    judgement_payload,
)
from annotation.selectors.assignments import assignment_payload
from annotation.selectors.projects import project_get_for_user
from annotation.services.assignments import assignment_next, assignment_skip
from annotation.services.judgements import judgement_replace, judgement_submit


class NextView(APIView):
    @extend_schema(
        request=None,
        responses={200: NextSerializer, 204: OpenApiResponse(description="Nothing left for you in this project.")},
        summary="Lease the next task (the same one again while your lease is live)",
    )
    def post(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        assignment = assignment_next(project=project, annotator=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_payload(assignment=assignment))


class JudgementView(APIView):
    @extend_schema(
        request=JudgementInputSerializer,
        responses={201: JudgementSerializer, 200: JudgementSerializer},
        summary="Submit a judgement (201; 200 with the same judgement on a retry with the same client_id)",
    )
    def post(self, request, assignment_id: int):
        data = JudgementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        judgement, created = judgement_submit(assignment_id=assignment_id, annotator=request.user, **data.validated_data)
        return Response(judgement_payload(judgement), status=201 if created else 200)


class ReplaceView(APIView):
    @extend_schema(
        request=JudgementInputSerializer,
        responses={201: JudgementSerializer, 200: JudgementSerializer},
        summary="Undo: record a judgement replacing yours (within the undo window)",
    )
    def post(self, request, judgement_id: int):
        data = JudgementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        judgement, created = judgement_replace(judgement_id=judgement_id, annotator=request.user, **data.validated_data)
        return Response(judgement_payload(judgement), status=201 if created else 200)


class SkipView(APIView):
    @extend_schema(request=SkipInputSerializer, responses=AssignmentSerializer, summary="Skip a task, with a reason")
    def post(self, request, assignment_id: int):
        data = SkipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_skip(assignment_id=assignment_id, annotator=request.user, **data.validated_data)
        return Response(AssignmentSerializer(assignment).data)

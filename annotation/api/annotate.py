"""The annotate loop: next task, judgement, skip, and undo (replace)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.hot_path import HotPathMixin
from annotation.api.judgement_input import judgement_input, plain_judgement_request
from annotation.api.serializers import (
    AssignmentSerializer,
    JudgementInputSerializer,
    JudgementSerializer,
    NextSerializer,
    SkipInputSerializer,
    judgement_payload,
)
from annotation.selectors.assignments import assignment_payload
from annotation.services.annotate_sql import next_via_sql, submit_via_sql
from annotation.services.assignments import assignment_next_in_project, assignment_skip
from annotation.services.judgements import judgement_replace, judgement_submit


class NextView(HotPathMixin, APIView):
    @extend_schema(
        request=None,
        responses={200: NextSerializer, 204: OpenApiResponse(description="Nothing left for you in this project.")},
        summary="Lease the next task (the same one again while your lease is live)",
    )
    def post(self, request, project_id: int):
        data, answer_status = self.fast_post(request, request.user, project_id=project_id)
        return Response(data, status=answer_status)

    @staticmethod
    def sql_post(request, token: str, *, project_id: int):
        """`post` in one SQL function call (see `HotPathMixin`); None leaves it to the services."""
        return next_via_sql(token=token, project_id=project_id)

    @staticmethod
    def fast_post(request, user, *, project_id: int):
        """(body, status) of `post`; also served directly by `HotPathMixin` (`next` takes no body)."""
        assignment = assignment_next_in_project(project_id=project_id, annotator=user)
        if assignment is None:
            return None, status.HTTP_204_NO_CONTENT
        return assignment_payload(assignment=assignment), status.HTTP_200_OK


class JudgementView(HotPathMixin, APIView):
    @extend_schema(
        request=JudgementInputSerializer,
        responses={201: JudgementSerializer, 200: JudgementSerializer},
        summary="Submit a judgement (201; 200 with the same judgement on a retry with the same client_id)",
    )
    def post(self, request, assignment_id: int):
        fields = judgement_input(request.data)
        judgement, created = judgement_submit(assignment_id=assignment_id, annotator=request.user, **fields)
        return Response(judgement_payload(judgement), status=201 if created else 200)

    @staticmethod
    def sql_post(request, token: str, *, assignment_id: int):
        """`post` for a plain JSON body in one SQL function call; None leaves it to the services."""
        fields = plain_judgement_request(request.META.get("CONTENT_TYPE", ""), request.body)
        return submit_via_sql(token=token, assignment_id=assignment_id, fields=fields)

    @staticmethod
    def fast_post(request, user, *, assignment_id: int):
        """`post` for a plain JSON body (see `HotPathMixin`); other bodies are left to `post`."""
        fields = plain_judgement_request(request.META.get("CONTENT_TYPE", ""), request.body)
        judgement, created = judgement_submit(assignment_id=assignment_id, annotator=user, **fields)
        return judgement_payload(judgement), 201 if created else 200


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

"""The annotate loop: next task, judgement, skip, and undo (replace)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import (
    AssignmentSerializer,
    JudgementInputSerializer,
    JudgementSerializer,
    NextSerializer,
    SkipInputSerializer,
)
from annotation.hot_path.drf import HotPathMixin
from annotation.hot_path.payloads import judgement_answer, judgement_payload, next_answer
from annotation.hot_path.request_input import judgement_input, plain_judgement_request
from annotation.hot_path.sql_functions import next_via_sql, submit_via_sql
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
        return next_answer(assignment_next_in_project(project_id=project_id, annotator=user))


class JudgementView(HotPathMixin, APIView):
    @extend_schema(
        request=JudgementInputSerializer,
        responses={201: JudgementSerializer, 200: JudgementSerializer},
        summary="Submit a judgement (201; 200 with the same judgement on a retry with the same client_id)",
    )
    def post(self, request, assignment_id: int):
        fields = judgement_input(request.data)
        judgement, created = judgement_submit(assignment_id=assignment_id, annotator=request.user, **fields)
        return Response(*judgement_answer(judgement_payload(judgement), created=created))

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
        return judgement_answer(judgement_payload(judgement), created=created)


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
        return Response(*judgement_answer(judgement_payload(judgement), created=created))


class SkipView(APIView):
    @extend_schema(request=SkipInputSerializer, responses=AssignmentSerializer, summary="Skip a task, with a reason")
    def post(self, request, assignment_id: int):
        data = SkipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = assignment_skip(assignment_id=assignment_id, annotator=request.user, **data.validated_data)
        return Response(AssignmentSerializer(assignment).data)

"""The annotate loop: next task, judgement, skip, and undo (replace)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.hot_path import HotPathMixin, NotOnTheHotPath, json_body
from annotation.api.serializers import (
    AssignmentSerializer,
    JudgementInputSerializer,
    JudgementSerializer,
    NextSerializer,
    SkipInputSerializer,
    judgement_payload,
)
from annotation.models import Judgement
from annotation.selectors.assignments import assignment_payload
from annotation.services.assignments import assignment_next_in_project, assignment_skip
from annotation.services.judgements import MAX_TEXT_CHARS, MAX_TIME_SPENT_MS, judgement_replace, judgement_submit


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
    def fast_post(request, user, *, project_id: int):
        """(body, status) of `post`; also served directly by `HotPathMixin` (`next` takes no body)."""
        assignment = assignment_next_in_project(project_id=project_id, annotator=user)
        if assignment is None:
            return None, status.HTTP_204_NO_CONTENT
        return assignment_payload(assignment=assignment), status.HTTP_200_OK


_FLAGS = frozenset(Judgement.Flag.values)
_PLAIN_TEXT_FIELDS = ("rationale", "text")
_PASSED_THROUGH = ("ranking", "criteria")  # JSONFields: checked against the task by the service


def _small_int(value, low: int, high: int) -> bool:
    return value is None or (type(value) is int and low <= value <= high)


def _plain_text(value, max_length: int) -> bool:
    """A str DRF's CharField keeps unchanged: no null characters, no lone surrogates."""
    if type(value) is not str or len(value) > max_length or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_judgement_fields(data) -> dict | None:
    """The judgement fields of a request body if `JudgementInputSerializer` would accept every
    value unchanged (the validated data it would return); None when it might coerce or refuse one."""
    if (
        type(data) is dict
        and _plain_text(client_id := data.get("client_id"), 100) and client_id and client_id == client_id.strip()
        and type(data.get("both_bad", False)) is bool
        and _small_int(data.get("strength"), 1, 4)
        and _small_int(data.get("time_spent_ms"), 0, MAX_TIME_SPENT_MS)
        and all(_plain_text(data.get(name, ""), MAX_TEXT_CHARS) for name in _PLAIN_TEXT_FIELDS)
        and (type(flags := data.get("flags", [])) is list and all(type(f) is str and f in _FLAGS for f in flags))
        and all(data.get(name, 0) is not None for name in _PASSED_THROUGH)  # the serializer refuses null
    ):
        fields = {"client_id": client_id, "both_bad": data.get("both_bad", False)}
        for name in ("strength", "time_spent_ms", "flags", *_PLAIN_TEXT_FIELDS, *_PASSED_THROUGH):
            if name in data:
                fields[name] = data[name]
        return fields
    return None


def judgement_input(data) -> dict:
    """The judgement fields of a request body, as `JudgementInputSerializer` validates them.

    The serializer deep-copies its fields on every request (~0.3 ms of CPU on the hot path), so a
    body made only of values it would accept unchanged is taken as is; anything else (a coercion
    such as "2" -> 2, a blank, a wrong type) goes through the serializer for its exact answer or
    its exact error.
    """
    fields = plain_judgement_fields(data)
    if fields is not None:
        return fields
    serializer = JudgementInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


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
    def fast_post(request, user, *, assignment_id: int):
        """`post` for a plain JSON body (see `HotPathMixin`); other bodies are left to `post`."""
        fields = plain_judgement_fields(json_body(request))
        if fields is None:
            raise NotOnTheHotPath
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

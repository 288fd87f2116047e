"""Tasks as managers see them, and marking gold tasks."""
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.serializers import GoldInputSerializer, TaskSerializer
from annotation.errors import DomainError
from annotation.models import ComparisonTask
from annotation.permissions import TRAINING_ROLES, require_role
from annotation.selectors.projects import project_get_for_user, projects_visible_to
from annotation.services.tasks import task_mark_gold

MAX_PAGE = 200


def _task_for_user(user, task_id: int) -> ComparisonTask:
    task = (
        ComparisonTask.objects.select_related("prompt", "project")
        .prefetch_related("task_responses__response")
        .filter(pk=task_id, project__in=projects_visible_to(user=user))
        .first()
    )
    if task is None:
        raise DomainError(f"Task {task_id} not found.", code="not_found", http_status=404)
    return task


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(f"{name} must be an integer.", field=name) from None
    if not low <= value <= high:
        raise DomainError(f"{name} must be between {low} and {high}.", field=name)
    return value


class TaskListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("purpose", str, enum=ComparisonTask.Purpose.values),
            OpenApiParameter("limit", int), OpenApiParameter("offset", int),
        ],
        responses=TaskSerializer(many=True),
        summary="A page of the project's tasks (managers and engineers)",
    )
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        require_role(user=request.user, project=project, roles=TRAINING_ROLES, action="browse tasks")
        tasks = ComparisonTask.objects.filter(project=project).select_related("prompt").prefetch_related(
            "task_responses__response"
        ).order_by("pk")
        purpose = request.query_params.get("purpose")
        if purpose is not None:
            if purpose not in ComparisonTask.Purpose.values:
                raise DomainError(f"purpose must be one of {', '.join(ComparisonTask.Purpose.values)}.", field="purpose")
            tasks = tasks.filter(purpose=purpose)
        limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
        offset = _int_param(request, "offset", 0, 0, 10**9)
        return Response(TaskSerializer(tasks[offset:offset + limit], many=True).data)


class TaskDetailView(APIView):
    @extend_schema(responses=TaskSerializer, summary="A task with its canonical responses (managers and engineers)")
    def get(self, request, task_id: int):
        task = _task_for_user(request.user, task_id)
        require_role(user=request.user, project=task.project, roles=TRAINING_ROLES, action="view tasks")
        return Response(TaskSerializer(task).data)


class TaskGoldView(APIView):
    @extend_schema(request=GoldInputSerializer, responses=TaskSerializer,
                   summary="Make a task gold with its known ranking (managers)")
    def post(self, request, task_id: int):
        task = _task_for_user(request.user, task_id)
        data = GoldInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task_mark_gold(task=task, actor=request.user, ranking=data.validated_data["ranking"])
        return Response(TaskSerializer(_task_for_user(request.user, task_id)).data)

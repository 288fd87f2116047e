"""Read-only endpoints behind the web UI's home page and manager dashboard."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.permissions import TRAINING_ROLES, require_role
from annotation.selectors.dashboard import project_dashboard, workload_for
from annotation.selectors.projects import project_get_for_user


class WorkloadProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    task_type = serializers.CharField()


class WorkloadSerializer(serializers.Serializer):
    """One row of `workload_for` (documents the shape; the selector builds it)."""

    project = WorkloadProjectSerializer()
    role = serializers.CharField(help_text="annotator, manager, engineer or admin")
    tasks_left = serializers.IntegerField()
    judged_by_me = serializers.IntegerField()
    judged_today = serializers.IntegerField()
    paused = serializers.BooleanField()
    paused_reason = serializers.CharField(allow_blank=True)


@extend_schema(responses={200: WorkloadSerializer(many=True)}, summary="My projects with my role and tasks left for me")
@api_view(["GET"])
def my_workload(request: Request) -> Response:
    """`GET /api/me/workload/`: my projects with my role and the number of tasks left for me."""
    return Response(workload_for(user=request.user))


@extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Throughput, backlog, strengths and flags (managers, engineers)")
@api_view(["GET"])
def dashboard(request: Request, project_id: int) -> Response:
    """`GET /api/projects/{id}/dashboard/`: throughput, backlog, strengths (managers, engineers)."""
    project = project_get_for_user(user=request.user, project_id=project_id)
    require_role(user=request.user, project=project, roles=TRAINING_ROLES, action="see the dashboard")
    return Response(project_dashboard(project=project))

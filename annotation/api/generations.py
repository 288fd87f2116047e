"""Background response generations of a project (read-only), for its managers and engineers."""
from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import TRAINING_ROLES, require_role
from annotation.selectors.projects import project_get_for_user
from annotation.selectors.response_generation import response_generations_of


class GenerationListView(APIView):
    @extend_schema(
        responses=OpenApiResponse(description=(
            "[{id, policy, status (queued, running, succeeded, failed), prompts_done, prompts_total, "
            "samples_per_prompt, tasks_created, error, created_at, started_at, first_tasks_at, finished_at}]")),
        summary="Responses a policy is generating in the background, with progress (managers, engineers)")
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        require_role(user=request.user, project=project, roles=TRAINING_ROLES, action="see response generation")
        return Response([asdict(g) for g in response_generations_of(project=project)])

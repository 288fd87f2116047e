"""Iterations of the training loop, for ML engineers (project role `engineer`, or an admin).

Nothing here imports `workers` or torch: starting an iteration writes rows and queues the Celery
task `workers.advance_iteration` by name once the transaction commits.
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.errors import DomainError
from annotation.models import Iteration, Membership
from annotation.permissions import require_role
from annotation.selectors.iteration_evaluation import iteration_evaluation, policy_leaderboard
from annotation.selectors.iterations import iteration_detail, iteration_summary, iterations_of_project
from annotation.selectors.projects import project_get_for_user
from annotation.services.iterations import ALGORITHMS, iteration_cancel, iteration_resume, iteration_start

ENGINEER_ROLES = frozenset({Membership.Role.ENGINEER})


class IterationStartSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(choices=ALGORITHMS, required=False,
                                        help_text="ppo, dpo or rloo (default: the project's setting).")
    hyperparameters = serializers.JSONField(required=False, help_text=(
        'Per-command options, e.g. {"seed": 1, "reward": {"epochs": 2}, "ppo": {"steps": 50}, '
        '"generate": {"train_prompts": 32, "eval_prompts": 32, "temperature": 0.8}}.'))

    def validate(self, data):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({unknown[0]: "is not a field here."})
        return data


def _require_engineer(request, project, action: str) -> None:
    require_role(user=request.user, project=project, roles=ENGINEER_ROLES, action=action)


def _iteration_for_engineer(request, iteration_id: int, action: str) -> Iteration:
    iteration = Iteration.objects.select_related("project", "policy_before", "policy_after").filter(
        pk=iteration_id).first()
    if iteration is None:
        raise DomainError(f"Iteration {iteration_id} not found.", code="not_found", http_status=404)
    # Someone outside the project gets the same 404 as for an unknown id.
    project = project_get_for_user(user=request.user, project_id=iteration.project_id)
    _require_engineer(request, project, action)
    return iteration


class IterationListView(APIView):
    @extend_schema(responses=OpenApiResponse(description="[{id, number, status, algorithm, ...}]"),
                   summary="Iterations of a project, newest first (engineers)")
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        _require_engineer(request, project, "see training iterations")
        return Response([iteration_summary(i) for i in iterations_of_project(project=project)])

    @extend_schema(request=IterationStartSerializer,
                   responses={202: OpenApiResponse(description="{id, status, number, created}"),
                              200: OpenApiResponse(description="the iteration already running (single flight)")},
                   summary="Start an iteration of the RLHF loop (engineers)")
    def post(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        _require_engineer(request, project, "start training iterations")
        data = IterationStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = iteration_start(project=project, created_by=request.user, trigger="api", **data.validated_data)
        iteration = started.iteration
        body = {"id": iteration.pk, "status": iteration.status, "number": iteration.number, "created": started.created}
        return Response(body, status=status.HTTP_202_ACCEPTED if started.created else status.HTTP_200_OK)


class IterationDetailView(APIView):
    @extend_schema(responses=OpenApiResponse(description="steps with status, progress, metrics, log tail, "
                                                         "artifact paths; human evaluation results"),
                   summary="One iteration in detail (engineers)")
    def get(self, request, iteration_id: int):
        iteration = _iteration_for_engineer(request, iteration_id, "see training iterations")
        return Response({**iteration_detail(iteration), "evaluation": iteration_evaluation(iteration=iteration)})


class IterationCancelView(APIView):
    @extend_schema(request=None, responses=OpenApiResponse(description="{id, status, ...}"),
                   summary="Cancel a queued or running iteration; its running step is stopped (engineers)")
    def post(self, request, iteration_id: int):
        iteration = _iteration_for_engineer(request, iteration_id, "cancel training iterations")
        return Response(iteration_summary(iteration_cancel(iteration=iteration)))


class IterationResumeView(APIView):
    @extend_schema(request=None, responses={202: OpenApiResponse(description="{id, status, ...}")},
                   summary="Resume a failed or cancelled iteration at its first unfinished step (engineers)")
    def post(self, request, iteration_id: int):
        iteration = _iteration_for_engineer(request, iteration_id, "resume training iterations")
        return Response(iteration_summary(iteration_resume(iteration=iteration)), status=status.HTTP_202_ACCEPTED)


class LeaderboardView(APIView):
    @extend_schema(responses=OpenApiResponse(description="[{policy, score, ci_low, ci_high, n}] best first"),
                   summary="Bradley-Terry scores of the project's policy versions from human judgements")
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        _require_engineer(request, project, "see the policy leaderboard")
        return Response(policy_leaderboard(project=project))

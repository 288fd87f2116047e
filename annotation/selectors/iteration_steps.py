"""What the steps of an iteration read (the workers run them): the jobs of earlier steps, the
responses a policy has already written, and the responses of the tasks an AI annotator judges."""
from collections.abc import Iterable

from annotation.models import ComparisonTask, Iteration, PolicyVersion, Response, TaskResponse, TrainingJob


def iteration_step_job(*, iteration: Iteration, step: str) -> TrainingJob | None:
    """The iteration's job for `step` (None when the iteration has no such step)."""
    return iteration.jobs.filter(step=step).first()


def sft_job_on_demonstrations(*, iteration: Iteration, demonstrations_hash: str) -> TrainingJob | None:
    """An SFT step of another iteration of the project that trained on these very demonstrations
    (its policy already learned them), or None."""
    return (
        TrainingJob.objects.filter(
            iteration__project_id=iteration.project_id, step="sft", status=TrainingJob.Status.SUCCEEDED,
            metrics__demonstrations_hash=demonstrations_hash, metrics__skipped=False,
        )
        .exclude(iteration=iteration)
        .select_related("iteration")
        .first()
    )


def prompt_ids_answered_by(*, policy: PolicyVersion) -> set[int]:
    """The prompts `policy` already has a stored response to."""
    return set(Response.objects.filter(policy_version=policy).values_list("prompt_id", flat=True))


def policy_responses_to_prompts(*, policies: Iterable[PolicyVersion], prompt_ids: Iterable[int]) -> list[Response]:
    """The responses of these policies to these prompts, with their prompt and policy loaded."""
    return list(
        Response.objects.filter(policy_version__in=list(policies), prompt_id__in=list(prompt_ids))
        .select_related("prompt", "policy_version")
    )


def task_responses(*, tasks: Iterable[ComparisonTask]) -> list[TaskResponse]:
    """The responses shown in these tasks (one row per task and response), with their prompts loaded."""
    return list(TaskResponse.objects.filter(task__in=list(tasks)).select_related("response__prompt"))

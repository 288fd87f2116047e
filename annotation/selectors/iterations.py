"""Reads about the training loop: which projects are due for an iteration, and what an
iteration looks like to an ML engineer (its steps, progress, metrics, logs, artifacts)."""
from django.db.models import QuerySet

from annotation.models import ComparisonTask, Iteration, Judgement, Project, RewardModelVersion, TrainingJob

LIVE = (Iteration.Status.QUEUED, Iteration.Status.RUNNING)
# Lines of log tail shown per step in the detail view.
LOG_TAIL_LINES = 40


def judgement_watermark(*, project: Project) -> int:
    """The newest judgement id the project's latest reward model learned from (0: none yet)."""
    latest = RewardModelVersion.objects.filter(project=project).order_by("-pk").first()
    return latest.judgement_watermark if latest else 0


def new_usable_judgement_count(*, project: Project) -> int:
    """Human judgements on training tasks, not replaced, newer than the last reward model."""
    return (
        Judgement.objects.filter(
            project=project,
            pk__gt=judgement_watermark(project=project),
            replaced_by__isnull=True,
            is_ai=False,
            task__purpose=ComparisonTask.Purpose.TRAINING,
        ).count()
    )


def projects_due_for_iteration() -> list[Project]:
    """Projects with a retrain threshold whose new usable judgements reached it.

    Skipped: projects with a live iteration (single flight), and projects whose latest iteration
    failed, so a broken step is not retried every minute; an engineer resumes it or starts anew.
    """
    due = []
    for project in Project.objects.filter(retrain_threshold__gt=0).order_by("pk"):
        latest = Iteration.objects.filter(project=project).order_by("-number").first()
        if latest is not None and latest.status in (*LIVE, Iteration.Status.FAILED):
            continue
        if new_usable_judgement_count(project=project) >= project.retrain_threshold:
            due.append(project)
    return due


def iterations_to_evaluate(*, per_project: int = 3) -> list[Iteration]:
    """The latest succeeded iterations of each project (their evaluation tasks may still be judged)."""
    chosen = []
    for project_id in Iteration.objects.filter(status=Iteration.Status.SUCCEEDED).values_list(
        "project_id", flat=True
    ).distinct():
        chosen += list(
            Iteration.objects.filter(project_id=project_id, status=Iteration.Status.SUCCEEDED)
            .select_related("policy_before", "policy_after")
            .order_by("-number")[:per_project]
        )
    return chosen


def iterations_of_project(*, project: Project) -> QuerySet[Iteration]:
    return Iteration.objects.filter(project=project).order_by("-number")


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def training_job_summary(job: TrainingJob, *, with_history: bool = True) -> dict:
    summary = {
        "id": job.pk,
        "step": job.step,
        "order": job.order,
        "status": job.status,
        "progress": round(job.progress, 4),
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "heartbeat_at": job.heartbeat_at,
        "metrics": job.metrics,
        "artifact_path": job.artifact_path,
        "error": job.error,
        "log_tail": _tail(job.log_tail),
    }
    if with_history:
        summary["metrics_history"] = job.metrics_history
    return summary


def iteration_summary(iteration: Iteration) -> dict:
    """The fields of an iteration shown in lists."""
    return {
        "id": iteration.pk,
        "project": iteration.project_id,
        "number": iteration.number,
        "status": iteration.status,
        "algorithm": iteration.algorithm,
        "trigger": iteration.trigger,
        "created_at": iteration.created_at,
        "started_at": iteration.started_at,
        "finished_at": iteration.finished_at,
        "error": iteration.error,
    }


def iteration_detail(iteration: Iteration, *, with_history: bool = True) -> dict:
    """Everything about one iteration: its steps with status, progress, metrics and log tail."""
    jobs = list(iteration.jobs.order_by("order"))
    return {
        **iteration_summary(iteration),
        "hyperparameters": iteration.hyperparameters,
        "dataset_hash": iteration.dataset_hash,
        "policy_before": iteration.policy_before.name if iteration.policy_before else None,
        "policy_after": iteration.policy_after.name if iteration.policy_after else None,
        "reward_model": iteration.reward_model_id,
        "overoptimization_flag": iteration.overoptimization_flag,
        "overoptimization_reason": iteration.overoptimization_reason,
        "progress": round(sum(job.progress for job in jobs) / len(jobs), 4) if jobs else 0.0,
        "steps": [training_job_summary(job, with_history=with_history) for job in jobs],
        # What happened to its steps that no step's status shows: a lost worker, a retry.
        "events": iteration.summary.get("events", []),
        "tasks": {
            purpose: ComparisonTask.objects.filter(iteration=iteration, purpose=purpose).count()
            for purpose in (ComparisonTask.Purpose.TRAINING, ComparisonTask.Purpose.EVALUATION)
        },
    }

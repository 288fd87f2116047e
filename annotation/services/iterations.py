"""Iterations of the RLHF loop: start (single flight), advance, resume, cancel, and the versions
(policies, reward models) they produce.

The web process only writes rows here and asks, once the transaction commits, for the Celery task
`workers.advance_iteration` by name: `annotation` never imports `workers` (nor torch).
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import (
    Iteration,
    PolicyVersion,
    Project,
    RewardModelVersion,
    TrainingJob,
)
from annotation.selectors.iteration_evaluation import iteration_evaluation
from annotation.services.training_settings import hyperparameters_validate

logger = logging.getLogger(__name__)

ALGORITHMS = tuple(Project.Algorithm.values)
LIVE = (Iteration.Status.QUEUED, Iteration.Status.RUNNING)


def iteration_steps(*, algorithm: str, rlaif: bool = False) -> list[str]:
    """The steps of an iteration, in order (`algorithm` is the policy-optimization step; `rlaif`
    adds the AI pseudo-annotator's judging of the new training tasks)."""
    return ["snapshot", "sft", "reward", algorithm, "generate", *(["rlaif"] if rlaif else []), "evaluate"]


def hyperparameters_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, section by section: a command's options merge, not replace."""
    merged = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def _send_advance(iteration_id: int) -> None:
    try:
        current_app.send_task("workers.advance_iteration", args=[iteration_id])
    except Exception:  # the broker is down: the rows are committed, the beat nudges it later
        logger.exception("Could not queue iteration %s; the beat will retry.", iteration_id)


def _enqueue_advance(iteration_id: int) -> None:
    """Asks a worker to run the iteration's next step, once the current transaction commits."""
    transaction.on_commit(lambda: _send_advance(iteration_id))


@dataclass(frozen=True)
class IterationStart:
    iteration: Iteration
    created: bool


@transaction.atomic
def iteration_start(*, project: Project, algorithm: str | None = None, hyperparameters: dict | None = None,
                    trigger: str = "manual", created_by: AbstractBaseUser | None = None) -> IterationStart:
    """Starts an iteration of `project`, or returns the one already queued or running.

    Single flight: the project row is locked, so two concurrent triggers serialize and the second
    finds the first's iteration; the partial unique constraint `one_live_iteration_per_project`
    backs this up at the database level.
    """
    algorithm = algorithm or project.algorithm
    if algorithm not in ALGORITHMS:
        raise DomainError(
            f"Unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}.", field="algorithm"
        )
    requested = hyperparameters_validate(hyperparameters)
    project = Project.objects.select_for_update().get(pk=project.pk)
    live = Iteration.objects.filter(project=project, status__in=LIVE).first()
    if live is not None:
        return IterationStart(live, False)
    if not project.base_policy_path and not PolicyVersion.objects.filter(project=project).exists():
        raise DomainError(
            "The project has no base policy: set base_policy_path to a Hugging Face model directory "
            "(e.g. one built with `python -m training tiny-model`).",
            field="base_policy_path",
        )
    merged = hyperparameters_merge(hyperparameters_validate(project.hyperparameters), requested)
    number = (Iteration.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            iteration = Iteration.objects.create(
                project=project, number=number, algorithm=algorithm, hyperparameters=merged,
                trigger=trigger, created_by=created_by,
            )
    except IntegrityError:
        live = Iteration.objects.filter(project=project, status__in=LIVE).first()
        if live is None:
            raise
        return IterationStart(live, False)
    TrainingJob.objects.bulk_create(
        [TrainingJob(iteration=iteration, step=step, order=i)
         for i, step in enumerate(iteration_steps(algorithm=algorithm, rlaif=project.rlaif_enabled))]
    )
    _enqueue_advance(iteration.pk)
    return IterationStart(iteration, True)


@transaction.atomic
def iteration_next_job(*, iteration_id: int) -> TrainingJob | None:
    """The next step to dispatch, or None; marks the iteration succeeded after its last step.

    Returns None when the iteration is not live or a step is already running (dispatching the
    same queued job twice is harmless: only one claim succeeds).
    """
    iteration = Iteration.objects.select_for_update().filter(pk=iteration_id).first()
    if iteration is None or iteration.status not in LIVE:
        return None
    for job in iteration.jobs.order_by("order"):
        if job.status == TrainingJob.Status.SUCCEEDED:
            continue
        if job.status == TrainingJob.Status.QUEUED:
            return job
        return None
    iteration.status = Iteration.Status.SUCCEEDED
    iteration.finished_at = timezone.now()
    iteration.save(update_fields=["status", "finished_at"])
    return None


@transaction.atomic
def iteration_cancel(*, iteration: Iteration) -> Iteration:
    """Cancels a queued or running iteration; its running step is marked cancelled.

    The worker running that step notices within a second and terminates its training subprocess.
    Steps not yet started stay queued, so the iteration can be resumed later.
    """
    iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
    if iteration.status not in LIVE:
        raise DomainError(
            f"Iteration {iteration.pk} is {iteration.status}; only a queued or running one can be cancelled.",
            code="conflict", http_status=409,
        )
    now = timezone.now()
    TrainingJob.objects.filter(iteration=iteration, status=TrainingJob.Status.RUNNING).update(
        status=TrainingJob.Status.CANCELLED, finished_at=now, error="Cancelled."
    )
    iteration.status = Iteration.Status.CANCELLED
    iteration.finished_at = now
    iteration.save(update_fields=["status", "finished_at"])
    return iteration


@transaction.atomic
def iteration_resume(*, iteration: Iteration) -> Iteration:
    """Re-runs a failed or cancelled iteration from its first unfinished step.

    Succeeded steps are kept (each step is idempotent and its outputs are recorded); the failed
    or cancelled ones go back to the queue. Refused while another iteration of the project is live.
    """
    Project.objects.select_for_update().get(pk=iteration.project_id)
    iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
    if iteration.status not in (Iteration.Status.FAILED, Iteration.Status.CANCELLED):
        raise DomainError(
            f"Iteration {iteration.pk} is {iteration.status}; only a failed or cancelled one can be resumed.",
            code="conflict", http_status=409,
        )
    live = Iteration.objects.filter(project_id=iteration.project_id, status__in=LIVE).first()
    if live is not None:
        raise DomainError(
            f"Iteration {live.pk} of this project is {live.status}; one iteration runs at a time.",
            code="conflict", http_status=409,
        )
    TrainingJob.objects.filter(iteration=iteration).exclude(status=TrainingJob.Status.SUCCEEDED).update(
        status=TrainingJob.Status.QUEUED, progress=0.0, error="", finished_at=None, subprocess_pid=None
    )
    iteration.status = Iteration.Status.QUEUED
    iteration.error = ""
    iteration.finished_at = None
    iteration.save(update_fields=["status", "error", "finished_at"])
    _enqueue_advance(iteration.pk)
    return iteration


@transaction.atomic
def iterations_nudge_stalled(*, stalled_seconds: float) -> list[int]:
    """Re-queues live iterations that nothing has moved for `stalled_seconds` (no step running):
    a message lost with a broker outage must not leave an iteration queued forever. A duplicate
    message is harmless (only one claim of a step succeeds); each iteration is nudged at most
    once per `stalled_seconds`. Returns the ids nudged."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=stalled_seconds)
    nudged = []
    for iteration in Iteration.objects.select_for_update(skip_locked=True).filter(status__in=LIVE):
        jobs = list(iteration.jobs.all())
        if any(job.status == TrainingJob.Status.RUNNING for job in jobs):
            continue
        moments = [iteration.created_at, iteration.started_at, *(job.finished_at for job in jobs)]
        last_nudge = iteration.summary.get("nudged_at")
        if last_nudge:
            moments.append(datetime.fromisoformat(last_nudge))
        if max(m for m in moments if m is not None) > cutoff:
            continue
        iteration.summary = {**iteration.summary, "nudged_at": now.isoformat()}
        iteration.save(update_fields=["summary"])
        _enqueue_advance(iteration.pk)
        nudged.append(iteration.pk)
    return nudged


@transaction.atomic
def policy_reference_ensure(*, project: Project) -> PolicyVersion:
    """The project's reference policy (its base model), registered on first use."""
    reference = PolicyVersion.objects.filter(project=project, is_reference=True).order_by("pk").first()
    if reference is not None:
        return reference
    if not project.base_policy_path:
        raise DomainError("The project has no base policy path.", field="base_policy_path")
    reference, _ = PolicyVersion.objects.get_or_create(
        project=project, name="reference",
        defaults={"path": project.base_policy_path, "is_reference": True},
    )
    return reference


def policy_previous(*, project: Project) -> PolicyVersion:
    """The policy a new iteration starts from: the newest policy of a succeeded iteration, else the reference."""
    newest = (
        PolicyVersion.objects.filter(project=project, iteration__status=Iteration.Status.SUCCEEDED)
        .order_by("-iteration__number")
        .first()
    )
    return newest or policy_reference_ensure(project=project)


@transaction.atomic
def iteration_set_policy_before(*, iteration: Iteration) -> PolicyVersion:
    """Fixes the iteration's starting policy the first time it is asked (idempotent)."""
    iteration = Iteration.objects.select_for_update().get(pk=iteration.pk)
    if iteration.policy_before_id is None:
        iteration.policy_before = policy_previous(project=iteration.project)
        iteration.save(update_fields=["policy_before"])
    return iteration.policy_before


@transaction.atomic
def policy_version_register(*, iteration: Iteration, path: str, metrics: dict) -> PolicyVersion:
    """Registers the iteration's trained policy (idempotent: a re-run step updates the same row)."""
    iteration = Iteration.objects.select_for_update().select_related("project").get(pk=iteration.pk)
    policy, _ = PolicyVersion.objects.update_or_create(
        project=iteration.project, name=f"iteration-{iteration.number}",
        defaults={"path": str(path), "parent": iteration.policy_before, "iteration": iteration,
                  "metrics": metrics, "is_reference": False},
    )
    iteration.policy_after = policy
    iteration.save(update_fields=["policy_after"])
    return policy


@transaction.atomic
def reward_model_register(*, iteration: Iteration, path: str, n_pairs: int, judgement_watermark: int,
                          metrics: dict) -> RewardModelVersion:
    """Registers the iteration's reward model (idempotent per iteration)."""
    iteration = Iteration.objects.select_for_update().select_related("project").get(pk=iteration.pk)
    reward_model = RewardModelVersion.objects.filter(iteration=iteration).first() or RewardModelVersion(
        project=iteration.project, iteration=iteration
    )
    reward_model.path = str(path)
    reward_model.n_pairs = n_pairs
    reward_model.judgement_watermark = judgement_watermark
    reward_model.metrics = metrics
    reward_model.save()
    iteration.reward_model = reward_model
    iteration.save(update_fields=["reward_model"])
    return reward_model


@transaction.atomic
def iteration_evaluation_record(*, iteration: Iteration) -> dict:
    """Stores the iteration's current human evaluation in its summary and raises (or clears) its
    overoptimization flag. Called every minute by the beat for recently finished iterations."""
    evaluation = iteration_evaluation(iteration=iteration)
    verdict = evaluation["overoptimization"] or {"flagged": False, "reason": ""}
    Iteration.objects.filter(pk=iteration.pk).update(
        summary={**iteration.summary, "evaluation": evaluation},
        overoptimization_flag=verdict["flagged"],
        overoptimization_reason=verdict["reason"],
    )
    return evaluation

"""Celery tasks of the RLHF loop (thin: load, guard, call a service or a step, record).

Tasks are registered under explicit names (`workers.<name>`) because the web process queues them
by name without importing this module, and without naming a queue: `advance_iteration` picks the
step's task here (`GPU_STEPS`), and settings route `run_gpu_step` to the `gpu` queue, the rest to
`default`.
"""
import logging

from celery import shared_task
from django.conf import settings

from annotation.errors import DomainError
from annotation.selectors.iterations import iterations_to_evaluate, projects_due_for_iteration
from annotation.services.iterations import (
    iteration_evaluation_record,
    iteration_next_job,
    iteration_start,
    iterations_nudge_stalled,
)
from annotation.services.training_jobs import training_jobs_fail_stale
from annotation.services.response_generation import response_generations_nudge_stale
from workers.execution import execute_step
from workers.generation import generate_chunk
from workers.steps import GPU_STEPS

logger = logging.getLogger(__name__)


@shared_task(name="workers.advance_iteration", acks_late=True)
def advance_iteration(iteration_id: int) -> int | None:
    """Dispatches the iteration's next queued step to its queue (or closes the iteration)."""
    job = iteration_next_job(iteration_id=iteration_id)
    if job is None:
        return None
    step_task = run_gpu_step if job.step in GPU_STEPS else run_db_step
    step_task.delay(job.pk)
    return job.pk


def _run_and_continue(task, job_id: int) -> str:
    outcome = execute_step(job_id=job_id, celery_task_id=task.request.id or "")
    if outcome.succeeded:
        advance_iteration.delay(outcome.iteration_id)
    return outcome.status


@shared_task(name="workers.run_gpu_step", bind=True, acks_late=True)
def run_gpu_step(self, job_id: int) -> str:
    """Runs a training or generation step (the `gpu` queue)."""
    return _run_and_continue(self, job_id)


@shared_task(name="workers.run_db_step", bind=True, acks_late=True)
def run_db_step(self, job_id: int) -> str:
    """Runs a bookkeeping step: the snapshot, the evaluation tasks (the `default` queue)."""
    return _run_and_continue(self, job_id)


@shared_task(name="workers.generate_responses_chunk", bind=True, acks_late=True)
def generate_responses_chunk(self, generation_id: int) -> str:
    """Samples the next chunk of a background response generation and creates its tasks; the
    chunk's record queues the next one (the `gpu` queue)."""
    return generate_chunk(generation_id=generation_id, holder=self.request.id or "").status


@shared_task(name="workers.check_projects")
def check_projects() -> list[int]:
    """Beat, every minute: starts an iteration for each project whose new usable judgements since
    its last reward model reached its retrain threshold. Returns the ids of iterations started."""
    started = []
    for project in projects_due_for_iteration():
        try:
            result = iteration_start(project=project, trigger="threshold")
        except DomainError as error:  # e.g. no base policy yet: the other projects still go on
            logger.warning("Project %s reached its retrain threshold but cannot iterate: %s", project, error.message)
            continue
        if result.created:
            logger.info("Started iteration %s of project %s (threshold reached)", result.iteration.number, project)
            started.append(result.iteration.pk)
    return started


@shared_task(name="workers.fail_stale_training_jobs")
def fail_stale_training_jobs() -> list[int]:
    """Beat, every minute: the watchdog for jobs whose worker died (no heartbeat for a while: queued
    again up to TRAINING_WORKER_LOST_RETRIES times, then failed) and for iterations whose next step
    was never dispatched."""
    handled = training_jobs_fail_stale(heartbeat_timeout_seconds=settings.TRAINING_HEARTBEAT_TIMEOUT,
                                       retries=settings.TRAINING_WORKER_LOST_RETRIES)
    for stale in handled:
        logger.warning("Training job %s (%s) had no heartbeat (worker lost): %s", stale.job_id, stale.step,
                       "queued again" if stale.retried else "failed")
    # The other way an iteration gets stuck: its next message was lost (a broker outage).
    for iteration_id in iterations_nudge_stalled(stalled_seconds=settings.TRAINING_STALL_SECONDS):
        logger.warning("Iteration %s had not moved for a while; queued it again", iteration_id)
    for generation_id in response_generations_nudge_stale():
        logger.warning("Response generation %s had not moved for a while; queued it again", generation_id)
    return [stale.job_id for stale in handled]


@shared_task(name="workers.record_evaluations")
def record_evaluations() -> list[int]:
    """Beat, every minute: refreshes the human evaluation and the overoptimization flag of
    recently finished iterations as their evaluation tasks get judged."""
    flagged = []
    for iteration in iterations_to_evaluate():
        evaluation = iteration_evaluation_record(iteration=iteration)
        if evaluation["overoptimization"] and evaluation["overoptimization"]["flagged"]:
            flagged.append(iteration.pk)
    return flagged

"""Executes one claimed step and records how it ended; shared by the Celery tasks and by
`manage.py iterate --inline` (which runs a whole iteration in its own process)."""
import logging
import os
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded

from annotation.errors import DomainError
from annotation.services.training_jobs import training_job_claim, training_job_fail, training_job_succeed
from workers.runner import StepCancelled, StepFailed
from workers.steps import STEP_RUNNERS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepExecution:
    status: str  # "succeeded", "failed", "cancelled" or "not_claimed"
    iteration_id: int | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def execute_step(*, job_id: int, celery_task_id: str = "") -> StepExecution:
    """Claims job `job_id` (queued -> running), runs its step, and records success or failure.

    A job that is not queued (a redelivered message, a cancelled iteration) is left alone.
    """
    job = training_job_claim(job_id=job_id, celery_task_id=celery_task_id, worker_pid=os.getpid())
    if job is None:
        return StepExecution("not_claimed")
    iteration_id = job.iteration_id
    try:
        outcome = STEP_RUNNERS[job.step](job)
    except StepCancelled:
        return StepExecution("cancelled", iteration_id)
    except (StepFailed, DomainError) as error:
        training_job_fail(job_id=job_id, error=str(error), claimed_at=job.started_at)
        return StepExecution("failed", iteration_id)
    except SoftTimeLimitExceeded:
        training_job_fail(job_id=job_id, claimed_at=job.started_at,
                          error="The step exceeded the Celery time limit (CELERY_TASK_SOFT_TIME_LIMIT).")
        return StepExecution("failed", iteration_id)
    except Exception as error:  # a bug: keep the traceback in the worker log, the gist in the job
        logger.exception("Step %s of job %s crashed", job.step, job_id)
        training_job_fail(job_id=job_id, error=f"{type(error).__name__}: {error}", claimed_at=job.started_at)
        return StepExecution("failed", iteration_id)
    if training_job_succeed(job_id=job_id, metrics=outcome.metrics, artifact_path=outcome.artifact_path,
                            claimed_at=job.started_at):
        return StepExecution("succeeded", iteration_id)
    return StepExecution("cancelled", iteration_id)

"""The life of one TrainingJob (a step of an iteration): claim, progress, success, failure, watchdog.

Every transition is a conditional UPDATE on the job's current status, so a retried Celery message,
a cancel racing a progress report, or the watchdog racing a slow worker can never move a job
backwards (e.g. a cancelled job is never marked succeeded by the runner that was stopping it).
"""
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from annotation.models import Iteration, TrainingJob
from annotation.services.iterations import iteration_dispatch

# How much of the metrics history one job keeps: long runs are thinned to every other entry.
MAX_METRICS_HISTORY = 2000
# Characters of log tail kept per job (the end of stderr and of non-JSON stdout).
MAX_LOG_TAIL = 8000

Status = TrainingJob.Status
LIVE_ITERATION = (Iteration.Status.QUEUED, Iteration.Status.RUNNING)


def _without_nul(value):
    """The value with NUL characters dropped from every string (PostgreSQL jsonb refuses them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


@transaction.atomic
def training_job_claim(*, job_id: int, celery_task_id: str = "", worker_pid: int | None = None) -> TrainingJob | None:
    """Moves a queued job of a live iteration to running; None if it is not claimable.

    A redelivered message for a job that is already running, finished or cancelled returns None,
    which makes the step tasks safe to retry.
    """
    job = TrainingJob.objects.select_for_update().select_related("iteration").filter(pk=job_id).first()
    if job is None or job.status != Status.QUEUED or job.iteration.status not in LIVE_ITERATION:
        return None
    now = timezone.now()
    job.status = Status.RUNNING
    job.started_at = now
    job.heartbeat_at = now
    job.finished_at = None
    job.error = ""
    job.progress = 0.0
    job.celery_task_id = celery_task_id or ""
    job.worker_pid = worker_pid
    job.subprocess_pid = None
    job.save()
    Iteration.objects.filter(pk=job.iteration_id, status=Iteration.Status.QUEUED).update(
        status=Iteration.Status.RUNNING, started_at=now
    )
    return job


def _running(job_id: int, claimed_at):
    """The job while it is running under the claim that started at `claimed_at` (any claim if None).

    A runner that was cancelled, then outlived a resume and a new claim of the same job, must not
    take the new claim's place: the claim time tells them apart.
    """
    query = TrainingJob.objects.filter(pk=job_id, status=Status.RUNNING)
    return query.filter(started_at=claimed_at) if claimed_at is not None else query


def training_job_beat(*, job_id: int, claimed_at=None, subprocess_pid: int | None = None) -> bool:
    """Refreshes the heartbeat (and records the subprocess pid); False if the job stopped running."""
    changes = {"heartbeat_at": timezone.now()}
    if subprocess_pid is not None:
        changes["subprocess_pid"] = subprocess_pid
    return _running(job_id, claimed_at).update(**changes) == 1


@transaction.atomic
def training_job_report_progress(*, job_id: int, claimed_at=None, progress: float | None = None,
                                 metrics_entries: list[dict] | None = None,
                                 log_text: str = "") -> bool:
    """Records progress, per-step metrics and log output of a running job, and beats its heart.

    Returns False when the job is no longer running (cancelled or failed meanwhile): the caller
    should stop its work.
    """
    job = _running(job_id, claimed_at).select_for_update().first()
    if job is None:
        return False
    if progress is not None:
        job.progress = max(0.0, min(1.0, float(progress)))
    if metrics_entries:
        history = list(job.metrics_history) + _without_nul(list(metrics_entries))
        while len(history) > MAX_METRICS_HISTORY:
            history = history[::2]
        job.metrics_history = history
    if log_text:
        job.log_tail = (job.log_tail + log_text)[-MAX_LOG_TAIL:]
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["progress", "metrics_history", "log_tail", "heartbeat_at"])
    return True


@transaction.atomic
def training_job_succeed(*, job_id: int, metrics: dict, artifact_path: str = "", claimed_at=None) -> bool:
    """Marks a running job succeeded with its final metrics; False if it was stopped meanwhile."""
    return _running(job_id, claimed_at).update(
        status=Status.SUCCEEDED,
        progress=1.0,
        metrics=_without_nul(metrics),
        artifact_path=str(artifact_path or ""),
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        subprocess_pid=None,
    ) == 1


@transaction.atomic
def training_job_fail(*, job_id: int, error: str, claimed_at=None) -> bool:
    """Marks a running (or queued) job failed and stops its iteration as failed.

    Returns False if the job had already finished or been cancelled (or, with `claimed_at`, if
    it runs under another claim now).
    """
    query = TrainingJob.objects.select_for_update().filter(pk=job_id, status__in=[Status.RUNNING, Status.QUEUED])
    if claimed_at is not None:
        query = query.filter(started_at=claimed_at)
    job = query.first()
    if job is None:
        return False
    now = timezone.now()
    job.status = Status.FAILED
    job.error = error[:4000]
    job.finished_at = now
    job.subprocess_pid = None
    job.save(update_fields=["status", "error", "finished_at", "subprocess_pid"])
    Iteration.objects.filter(pk=job.iteration_id, status__in=LIVE_ITERATION).update(
        status=Iteration.Status.FAILED, error=f"{job.step}: {error}"[:4000], finished_at=now
    )
    return True


@dataclass(frozen=True)
class StaleJob:
    job_id: int
    iteration_id: int
    step: str
    heartbeat_at: object
    retried: bool = False  # queued again (True) or failed with its iteration (False)


# How many entries of `Iteration.summary["events"]` are kept (the newest).
MAX_ITERATION_EVENTS = 50


def iteration_event_record(*, iteration_id: int, event: str, step: str, job_id: int, detail: str) -> None:
    """Appends what happened to an iteration's steps (a lost worker, a retry) to
    `Iteration.summary["events"]`, which the iteration's API shows the engineer."""
    iteration = Iteration.objects.select_for_update().get(pk=iteration_id)
    events = list(iteration.summary.get("events", []))[-(MAX_ITERATION_EVENTS - 1):]
    events.append({"at": timezone.now().isoformat(), "event": event, "step": step, "job": job_id, "detail": detail})
    iteration.summary = {**iteration.summary, "events": events}
    iteration.save(update_fields=["summary"])


def _worker_lost_retries_so_far(iteration_id: int, job_id: int) -> int:
    summary = Iteration.objects.filter(pk=iteration_id).values_list("summary", flat=True).first() or {}
    return sum(1 for e in summary.get("events", []) if e.get("job") == job_id and e.get("event") == "worker_lost_retried")


def _requeue_lost(job: TrainingJob, note: str) -> None:
    """Puts a running job whose worker died back in the queue, for a new claim to run it afresh
    (steps are idempotent: a re-run overwrites the killed run's outputs and registers nothing twice).
    The killed run's own late reports, if it was only stalled, carry the old claim and are ignored."""
    job.status = Status.QUEUED
    job.progress = 0.0
    job.started_at = None
    job.heartbeat_at = None
    job.subprocess_pid = None
    job.worker_pid = None
    job.metrics_history = []
    job.log_tail = (job.log_tail + f"\n[watchdog] {note}\n")[-MAX_LOG_TAIL:]
    job.save(update_fields=["status", "progress", "started_at", "heartbeat_at", "subprocess_pid", "worker_pid",
                            "metrics_history", "log_tail"])


def training_jobs_fail_stale(*, heartbeat_timeout_seconds: float, retries: int = 0) -> list[StaleJob]:
    """The watchdog: handles every running job whose heartbeat stopped `heartbeat_timeout_seconds` ago.

    A worker that was killed (OOM, SIGKILL, a lost node) never reports back; its job would stay
    `running` forever and block the project's single flight. Each such job is queued again and
    its iteration dispatched (up to `retries` times per job), else failed so an engineer can
    resume. Either way the iteration's events say so (`iteration_event_record`).
    """
    cutoff = timezone.now() - timedelta(seconds=heartbeat_timeout_seconds)
    stale = list(
        TrainingJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", "iteration_id", "step", "heartbeat_at"
        )
    )
    handled = []
    for job_id, iteration_id, step, heartbeat_at in stale:
        lost = (f"The worker stopped reporting: no heartbeat since {heartbeat_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(timeout {heartbeat_timeout_seconds:g} s); it was probably killed.")
        with transaction.atomic():
            job = TrainingJob.objects.select_for_update().filter(
                pk=job_id, status=Status.RUNNING, heartbeat_at__lt=cutoff
            ).first()
            if job is None:
                continue
            retried_before = _worker_lost_retries_so_far(iteration_id, job_id)
            live = Iteration.objects.filter(pk=iteration_id, status__in=LIVE_ITERATION).exists()
            if live and retried_before < retries:
                note = f"{lost} Worker lost; step queued again (retry {retried_before + 1} of {retries})."
                _requeue_lost(job, note)
                iteration_event_record(iteration_id=iteration_id, event="worker_lost_retried", step=step,
                                       job_id=job_id, detail=note)
                iteration_dispatch(iteration_id)
                handled.append(StaleJob(job_id, iteration_id, step, heartbeat_at, retried=True))
            elif training_job_fail(job_id=job_id, error=lost):
                iteration_event_record(iteration_id=iteration_id, event="worker_lost_failed", step=step,
                                       job_id=job_id, detail=f"{lost} Worker lost; no retry left: step failed.")
                handled.append(StaleJob(job_id, iteration_id, step, heartbeat_at))
    return handled

"""Iteration lifecycle on a real worker: single flight, the beat trigger, cancel, the watchdog."""
import os
import threading
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from annotation.models import Iteration, Membership, TrainingJob
from annotation.services.iterations import iteration_cancel, iteration_start
from annotation.services.training_jobs import training_jobs_fail_stale
from tests.workers.conftest import judge, judged_project, wait_for
from workers.tasks import check_projects

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Reward training that would take far longer than any test: the step is stopped while it runs.
ENDLESS_REWARD = {"reward": {"epochs": 100000, "logging_steps": 1, "lr": 1e-3, "batch_size": 4}}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0; it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _reward_job_training(iteration: Iteration) -> TrainingJob:
    """Waits until the reward step's subprocess has reported training progress."""
    def training():
        job = TrainingJob.objects.get(iteration=iteration, step="reward")
        assert job.status in ("queued", "running"), f"reward step ended early: {job.status} {job.error}"
        return job if job.subprocess_pid and job.metrics_history else None
    return wait_for(training, timeout=150, message="the reward step to train")


def test_two_concurrent_triggers_start_one_iteration(tiny_policy):
    # Given a project with judgements
    project = judged_project(base_policy=tiny_policy, n_tasks=4)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def trigger():
        try:
            barrier.wait()
            results.append(iteration_start(project=project, trigger="manual"))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    # When two triggers race
    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one iteration exists and both triggers got it back; only one was created
    assert not errors, errors
    assert Iteration.objects.filter(project=project).count() == 1
    assert {r.iteration.pk for r in results} == {Iteration.objects.get(project=project).pk}
    assert sorted(r.created for r in results) == [False, True]
    # and a later trigger returns the live one too
    again = iteration_start(project=project)
    assert not again.created and again.iteration.pk == results[0].iteration.pk


def test_crossing_the_retrain_threshold_starts_exactly_one_iteration(tiny_policy):
    # Given a project that retrains after 5 new judgements, with 4 so far
    project = judged_project(base_policy=tiny_policy, n_tasks=4, retrain_threshold=5)
    User = get_user_model()
    annotator = User.objects.create_user(username=f"late-{uuid.uuid4().hex[:6]}", password="pw-123456")
    Membership.objects.create(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    from annotation.services.tasks import prompt_get_or_create, response_get_or_create, task_create

    prompt, _ = prompt_get_or_create(project=project, text="One more question?")
    task_create(project=project, prompt=prompt, responses=[
        response_get_or_create(prompt=prompt, text="Yes."), response_get_or_create(prompt=prompt, text="No.")
    ])

    # When the beat runs below the threshold, nothing starts
    assert check_projects() == []
    assert not Iteration.objects.filter(project=project).exists()

    # When one more judgement crosses it, the beat starts one iteration, and only one
    assert judge(project, annotator, 1) == 1
    started = check_projects()
    assert len(started) == 1
    assert check_projects() == []
    iteration = Iteration.objects.get(project=project)
    assert iteration.pk == started[0] and iteration.trigger == "threshold"


def test_cancel_stops_a_running_step(tiny_policy, celery_worker):
    # Given an iteration whose reward step is training in a subprocess on the worker
    project = judged_project(base_policy=tiny_policy, n_tasks=8, hyperparameters=ENDLESS_REWARD)
    iteration = iteration_start(project=project).iteration
    job = _reward_job_training(iteration)
    pid = job.subprocess_pid
    assert _process_alive(pid)
    # (a live worker keeps its heartbeat fresh: after running longer than the timeout, the job is
    # still left alone by the watchdog)
    while (timezone.now() - job.started_at).total_seconds() < 7:
        time.sleep(0.5)
    assert training_jobs_fail_stale(heartbeat_timeout_seconds=5) == []

    # When the engineer cancels
    iteration_cancel(iteration=iteration)

    # Then the training subprocess is terminated and the step stays cancelled
    wait_for(lambda: not _process_alive(pid), timeout=20, message="the training subprocess to exit")
    time.sleep(1.5)
    job.refresh_from_db()
    iteration.refresh_from_db()
    assert job.status == "cancelled" and iteration.status == "cancelled"
    assert iteration.jobs.get(step="ppo").status == "queued"
    assert "run_gpu_step" in celery_worker.log() and "'cancelled'" in celery_worker.log()


def test_a_killed_worker_is_caught_by_the_watchdog(tiny_policy, celery_worker):
    # Given a reward step training on the worker
    project = judged_project(base_policy=tiny_policy, n_tasks=8, hyperparameters=ENDLESS_REWARD)
    iteration = iteration_start(project=project).iteration
    job = _reward_job_training(iteration)
    pid = job.subprocess_pid

    # When the worker is killed outright (OOM killer, lost node)
    celery_worker.kill()

    # Then its training process dies with it, the job stays `running` with a stale heartbeat...
    wait_for(lambda: not _process_alive(pid), timeout=20, message="the orphaned training process to die")
    job.refresh_from_db()
    assert job.status == "running"
    time.sleep(2.5)
    # ...until the watchdog fails it, and the iteration with it
    failed = training_jobs_fail_stale(heartbeat_timeout_seconds=2)
    assert [stale.job_id for stale in failed] == [job.pk]
    job.refresh_from_db()
    iteration.refresh_from_db()
    assert job.status == "failed" and "heartbeat" in job.error
    assert iteration.status == "failed" and iteration.error.startswith("reward:")
    # (no retries allowed here: the iteration's events say the worker was lost and the step failed)
    assert [(e["event"], e["step"]) for e in iteration.summary["events"]] == [("worker_lost_failed", "reward")]
    # and a new iteration can start (single flight released)
    assert iteration_start(project=project).created

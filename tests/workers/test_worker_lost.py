"""kill -9 of the Celery worker in the middle of a training step: the watchdog queues the step
again, a new worker runs it, and the iteration finishes with one model, one job per step and one
task set; the engineer sees what happened in the iteration's API."""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import ComparisonTask, Iteration, Membership, PolicyVersion, RewardModelVersion, TrainingJob
from annotation.services.iterations import iteration_start
from annotation.services.training_jobs import training_job_claim, training_jobs_fail_stale
from tests.annotation.factories import add_member, client_for
from tests.workers.conftest import judged_project, wait_for
from tests.workers.test_iteration_lifecycle import _process_alive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The reward step trains for a few seconds (logging every step, so the kill lands mid-training);
# the rest is as small as an iteration gets.
SMALL = {
    "seed": 1,
    "reward": {"epochs": 40, "batch_size": 4, "lr": 1e-3, "logging_steps": 1, "max_length": 64},
    "dpo": {"max_steps": 2, "batch_size": 2, "max_length": 64},
    "generate": {"train_prompts": 3, "eval_prompts": 2, "max_new_tokens": 8},
}


def test_a_step_whose_worker_was_killed_is_run_again_and_the_iteration_finishes(tiny_policy, celery_worker):
    # Given an iteration whose reward step is training on the worker
    project = judged_project(base_policy=tiny_policy, n_tasks=8, n_eval_prompts=2, hyperparameters=SMALL,
                             algorithm="dpo")
    iteration = iteration_start(project=project).iteration

    def reward_training():
        job = TrainingJob.objects.get(iteration=iteration, step="reward")
        assert job.status in ("queued", "running"), f"reward step ended before the kill: {job.status} {job.error}"
        return job if job.subprocess_pid and job.metrics_history else None

    job = wait_for(reward_training, timeout=150, message="the reward step to train")
    killed_claim, killed_pid = job.started_at, job.subprocess_pid

    # When the worker is SIGKILLed, its training process dies with it...
    celery_worker.kill()
    wait_for(lambda: not _process_alive(killed_pid), timeout=20, message="the training process to die")
    # ...the beat's watchdog finds the silent step (here with a short timeout), and a new worker starts
    handled = wait_for(lambda: training_jobs_fail_stale(heartbeat_timeout_seconds=2, retries=1), timeout=30,
                       message="the watchdog to notice the lost worker")
    celery_worker.ensure_running()

    # Then the step is queued again and the iteration runs to its end
    assert [(stale.job_id, stale.retried) for stale in handled] == [(job.pk, True)]

    def finished():
        iteration.refresh_from_db()
        assert iteration.status in ("queued", "running", "succeeded"), f"{iteration.status}: {iteration.error}"
        return iteration.status == "succeeded"

    try:
        # (four more training processes: about a minute on an idle 2-core machine, minutes on a busy one)
        wait_for(finished, timeout=480, interval=1, message="the iteration to finish after the retry")
    except AssertionError:
        steps = TrainingJob.objects.filter(iteration=iteration).values_list("step", "status", "started_at",
                                                                            "finished_at", "error")
        raise AssertionError(f"{list(steps)}\n{celery_worker.log_tail()}") from None
    job.refresh_from_db()
    assert job.status == "succeeded" and job.started_at > killed_claim
    # One job per step, each succeeded once; one reward model and one policy for the iteration;
    # one task set (each prompt and pair of responses once)
    jobs = list(TrainingJob.objects.filter(iteration=iteration).values_list("step", "status"))
    assert sorted(jobs) == sorted((step, "succeeded") for step in
                                  ["snapshot", "sft", "reward", "dpo", "generate", "evaluate"])
    assert RewardModelVersion.objects.filter(iteration=iteration).count() == 1
    assert PolicyVersion.objects.filter(project=project, name="iteration-1").count() == 1
    created = ComparisonTask.objects.filter(iteration=iteration)
    assert created.exists()
    task_sets = [(t.prompt_id, tuple(sorted(t.task_responses.values_list("response_id", flat=True))))
                 for t in created]
    assert len(task_sets) == len(set(task_sets))
    assert created.filter(purpose="training").count() == TrainingJob.objects.get(
        iteration=iteration, step="generate").metrics["training_tasks_created"]
    # And the engineer reads in the iteration's API that the worker was lost and the step retried
    engineer = add_member(project, role=Membership.Role.ENGINEER)
    detail = client_for(engineer).get(f"/api/iterations/{iteration.pk}/").json()
    assert [(e["event"], e["step"]) for e in detail["events"]] == [("worker_lost_retried", "reward")]
    assert "Worker lost; step queued again (retry 1 of 1)" in detail["events"][0]["detail"]
    reward = next(step for step in detail["steps"] if step["step"] == "reward")
    assert "[watchdog]" in reward["log_tail"] and reward["status"] == "succeeded"
    assert Iteration.objects.filter(project=project).count() == 1


def test_a_step_that_loses_its_worker_again_fails_once_its_retries_are_spent(monkeypatch):
    # Given a reward step claimed by a worker that then went silent (no worker process here: the
    # messages that would dispatch the iteration are recorded instead of sent)
    dispatched = []
    monkeypatch.setattr("annotation.services.iterations._send_advance", dispatched.append)
    project = judged_project(base_policy="not-trained-here", n_tasks=2, n_eval_prompts=1)
    iteration = iteration_start(project=project).iteration
    TrainingJob.objects.filter(iteration=iteration, step__in=["snapshot", "sft"]).update(status="succeeded")
    job = TrainingJob.objects.get(iteration=iteration, step="reward")

    def claim_and_go_silent():
        assert training_job_claim(job_id=job.pk, celery_task_id="lost") is not None
        TrainingJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    # When it is lost twice with one retry allowed
    claim_and_go_silent()
    first = training_jobs_fail_stale(heartbeat_timeout_seconds=60, retries=1)
    job.refresh_from_db()
    requeued_status = job.status
    claim_and_go_silent()
    second = training_jobs_fail_stale(heartbeat_timeout_seconds=60, retries=1)

    # Then the first loss queued it again and dispatched the iteration; the second failed it
    assert [s.retried for s in first] == [True] and requeued_status == "queued"
    assert dispatched == [iteration.pk, iteration.pk]  # the start, then the retry
    assert [s.retried for s in second] == [False]
    job.refresh_from_db()
    iteration.refresh_from_db()
    assert job.status == "failed" and iteration.status == "failed"
    assert [e["event"] for e in iteration.summary["events"]] == ["worker_lost_retried", "worker_lost_failed"]

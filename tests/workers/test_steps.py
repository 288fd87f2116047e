"""Steps and the subprocess runner outside Celery: the DPO path, command lines, CLI options."""
import sys
from pathlib import Path

import pytest

from annotation.models import PolicyVersion, RewardModelVersion, TrainingJob
from annotation.services.iterations import iteration_start
from tests.workers.conftest import judged_project
from workers.execution import execute_step
from workers.runner import training_argv
from workers.steps import cli_options


def test_cli_options_spell_flags_the_way_the_training_cli_reads_them():
    assert cli_options({"max_steps": 5, "lr": 1e-3, "whiten_rewards": True, "bf16": False, "train_prompts": 4},
                       exclude=frozenset({"train_prompts"})) == [
        "--max-steps", "5", "--lr", "0.001", "--whiten-rewards", "--no-bf16"]


def test_training_commands_run_under_accelerate_when_configured(settings):
    settings.ACCELERATE_CONFIG_FILE = "/etc/prefloop/accelerate.yaml"
    settings.TRAINING_NUM_PROCESSES = 0
    argv = training_argv("ppo", ["--steps", "3"])
    assert argv[:5] == [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "/etc/prefloop/accelerate.yaml"]
    assert argv[5] == "--main_process_port" and argv[7:] == ["-m", "training", "ppo", "--steps", "3", "--progress-json"]
    # sampling and scoring stay single-process
    assert training_argv("generate", [])[:4] == [sys.executable, "-m", "training", "generate"]
    settings.ACCELERATE_CONFIG_FILE = ""
    assert training_argv("ppo", [])[:3] == [sys.executable, "-m", "training"]


@pytest.mark.slow
@pytest.mark.django_db
def test_the_dpo_step_trains_a_policy_from_the_snapshot_pairs(tiny_policy):
    # Given a judged project and a DPO iteration (run here step by step, without a worker)
    project = judged_project(base_policy=tiny_policy, n_tasks=6,
                             hyperparameters={"dpo": {"max_steps": 2, "batch_size": 2, "max_length": 64}})
    iteration = iteration_start(project=project, algorithm="dpo").iteration
    jobs = {job.step: job for job in iteration.jobs.all()}
    assert list(jobs) == ["snapshot", "sft", "reward", "dpo", "generate", "evaluate"]

    # When the snapshot, SFT (nothing to learn from) and DPO steps run
    assert execute_step(job_id=jobs["snapshot"].pk).succeeded
    assert execute_step(job_id=jobs["sft"].pk).succeeded
    outcome = execute_step(job_id=jobs["dpo"].pk)

    # Then DPO trained on the pairs alone (no reward model needed) and the policy is registered
    jobs["dpo"].refresh_from_db()
    assert outcome.succeeded, jobs["dpo"].error
    assert TrainingJob.objects.get(pk=jobs["sft"].pk).metrics == {"skipped": True, "reason": "no demonstrations"}
    assert jobs["dpo"].metrics["algorithm"] == "dpo" and jobs["dpo"].metrics_history
    policy = PolicyVersion.objects.get(project=project, iteration=iteration)
    assert Path(policy.path).is_dir() and jobs["dpo"].artifact_path == policy.path
    assert not RewardModelVersion.objects.filter(project=project).exists()
    # and a job that is not queued any more is not run twice
    assert execute_step(job_id=jobs["dpo"].pk).status == "not_claimed"


@pytest.mark.slow
@pytest.mark.django_db
def test_the_rloo_step_optimizes_the_policy_against_the_new_reward_model(tiny_policy):
    # Given a judged project and an RLOO iteration (run here step by step, without a worker)
    project = judged_project(base_policy=tiny_policy, n_tasks=6, hyperparameters={
        "reward": {"max_steps": 2, "batch_size": 2, "max_length": 64},
        "rloo": {"steps": 1, "batch_size": 4, "num_generations": 2, "max_new_tokens": 8, "lr": 1e-3},
    })
    iteration = iteration_start(project=project, algorithm="rloo").iteration
    jobs = {job.step: job for job in iteration.jobs.all()}
    assert list(jobs) == ["snapshot", "sft", "reward", "rloo", "generate", "evaluate"]

    # When the snapshot, SFT and reward steps run, then RLOO
    for step in ("snapshot", "sft", "reward"):
        assert execute_step(job_id=jobs[step].pk).succeeded, TrainingJob.objects.get(pk=jobs[step].pk).error
    iteration.refresh_from_db()
    assert iteration.reward_model is not None

    # Then RLOO trained against that reward model and the new policy is registered
    outcome = execute_step(job_id=jobs["rloo"].pk)
    jobs["rloo"].refresh_from_db()
    assert outcome.succeeded, jobs["rloo"].error
    assert jobs["rloo"].metrics["algorithm"] == "rloo" and jobs["rloo"].metrics_history
    policy = PolicyVersion.objects.get(project=project, iteration=iteration)
    assert Path(policy.path).is_dir() and jobs["rloo"].artifact_path == policy.path
    assert policy.path != tiny_policy


@pytest.mark.slow
@pytest.mark.django_db
def test_a_later_ppo_run_keeps_its_kl_to_the_projects_reference_not_to_its_start(tiny_policy, tmp_path):
    import json
    import shutil

    from annotation.services.iterations import policy_reference_ensure

    # Given a project whose current policy is an earlier iteration's (a copy of the base at another path)
    project = judged_project(base_policy=tiny_policy, n_tasks=6, hyperparameters={
        "reward": {"max_steps": 2, "batch_size": 2, "max_length": 64},
        "ppo": {"steps": 1, "batch_size": 4, "minibatch_size": 4, "ppo_epochs": 1, "max_new_tokens": 8, "max_kl": 5.0},
    })
    reference = policy_reference_ensure(project=project)
    earlier = PolicyVersion.objects.create(project=project, name="iteration-0", parent=reference,
                                           path=str(shutil.copytree(tiny_policy, tmp_path / "earlier")))
    iteration = iteration_start(project=project, algorithm="ppo").iteration
    iteration.policy_before = earlier
    iteration.save(update_fields=["policy_before"])
    jobs = {job.step: job for job in iteration.jobs.all()}

    # When PPO runs after the snapshot, SFT and reward steps
    for step in ("snapshot", "sft", "reward", "ppo"):
        assert execute_step(job_id=jobs[step].pk).succeeded, TrainingJob.objects.get(pk=jobs[step].pk).error

    # Then it started from the earlier policy with the KL penalty (and cap) to the reference
    jobs["ppo"].refresh_from_db()
    config = json.loads((Path(jobs["ppo"].artifact_path) / "training_config.json").read_text())["config"]
    assert config["policy"] == earlier.path and config["reference"] == reference.path and config["max_kl"] == 5.0


@pytest.mark.django_db
def test_sft_runs_only_when_the_demonstrations_changed(tmp_path):
    # Given an earlier iteration that fine-tuned on exactly these demonstrations
    from annotation.models import Iteration, Prompt, Response
    from annotation.services.tasks import response_content_hash

    project = judged_project(base_policy=str(tmp_path), n_tasks=4)
    prompt = Prompt.objects.filter(project=project).first()
    Response.objects.create(prompt=prompt, text="An ideal answer.", source="human",
                            content_hash=response_content_hash("An ideal answer."))
    first = iteration_start(project=project).iteration
    first_jobs = {job.step: job for job in first.jobs.all()}
    assert execute_step(job_id=first_jobs["snapshot"].pk).succeeded
    demonstrations_hash = TrainingJob.objects.get(pk=first_jobs["snapshot"].pk).metrics["demonstrations_hash"]
    TrainingJob.objects.filter(pk=first_jobs["sft"].pk).update(
        status="succeeded", metrics={"skipped": False, "demonstrations_hash": demonstrations_hash})
    Iteration.objects.filter(pk=first.pk).update(status="succeeded")

    # When the next iteration finds the same demonstrations, its SFT step is skipped (no training)
    second = iteration_start(project=project).iteration
    second_jobs = {job.step: job for job in second.jobs.all()}
    assert execute_step(job_id=second_jobs["snapshot"].pk).succeeded
    assert execute_step(job_id=second_jobs["sft"].pk).succeeded
    metrics = TrainingJob.objects.get(pk=second_jobs["sft"].pk).metrics
    assert metrics["skipped"] is True and metrics["reason"] == "demonstrations unchanged since iteration 1"


@pytest.mark.django_db
def test_a_stalled_iteration_is_queued_again_once_per_stall_period(tmp_path, django_capture_on_commit_callbacks):
    # Given an iteration whose first message was lost 20 minutes ago (nothing running)
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Iteration, Project
    from annotation.services.iterations import iterations_nudge_stalled

    project = Project.objects.create(name="stalled", base_policy_path=str(tmp_path))
    iteration = iteration_start(project=project).iteration
    Iteration.objects.filter(pk=iteration.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    busy = iteration_start(project=Project.objects.create(name="busy", base_policy_path=str(tmp_path))).iteration
    Iteration.objects.filter(pk=busy.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    TrainingJob.objects.filter(iteration=busy, step="snapshot").update(status="running")

    # When the beat looks for stalled iterations, only the idle one is queued again...
    with django_capture_on_commit_callbacks() as callbacks:
        assert iterations_nudge_stalled(stalled_seconds=900) == [iteration.pk]
    assert len(callbacks) == 1
    # ...and not again within the next stall period
    assert iterations_nudge_stalled(stalled_seconds=900) == []


@pytest.mark.django_db
def test_a_runner_outlived_by_a_resume_cannot_act_for_the_new_claim(tmp_path):
    # Given a step claimed, cancelled, resumed and claimed again (by another worker)
    from annotation.models import Project
    from annotation.services.iterations import iteration_cancel, iteration_resume
    from annotation.services.training_jobs import (
        training_job_claim,
        training_job_fail,
        training_job_report_progress,
        training_job_succeed,
    )

    project = Project.objects.create(name="two claims", base_policy_path=str(tmp_path))
    iteration = iteration_start(project=project).iteration
    job = iteration.jobs.get(step="snapshot")
    old_claim = training_job_claim(job_id=job.pk).started_at
    iteration_cancel(iteration=iteration)
    iteration_resume(iteration=iteration)
    new_claim = training_job_claim(job_id=job.pk).started_at
    assert new_claim != old_claim

    # Then the old runner is told to stop and cannot finish or fail the new run...
    assert not training_job_report_progress(job_id=job.pk, claimed_at=old_claim, progress=0.5)
    assert not training_job_succeed(job_id=job.pk, claimed_at=old_claim, metrics={"stale": True})
    assert not training_job_fail(job_id=job.pk, claimed_at=old_claim, error="stale")
    # ...while the new one reports normally
    assert training_job_report_progress(job_id=job.pk, claimed_at=new_claim, progress=0.5)
    job.refresh_from_db()
    assert job.status == "running" and job.progress == 0.5 and job.metrics == {}


@pytest.mark.django_db
def test_the_threshold_counts_human_judgements_since_the_last_reward_model(tmp_path):
    from django.db.models import Max

    from annotation.models import Iteration, Judgement
    from annotation.selectors.iterations import new_usable_judgement_count, projects_due_for_iteration

    project = judged_project(base_policy=str(tmp_path), n_tasks=4, retrain_threshold=4)
    assert new_usable_judgement_count(project=project) == 4
    assert projects_due_for_iteration() == [project]

    # A project whose latest iteration failed waits for an engineer instead of retrying every minute
    failed = Iteration.objects.create(project=project, number=1, algorithm="ppo", status="failed")
    assert projects_due_for_iteration() == []

    # Once a reward model learned from them, those judgements no longer count
    Iteration.objects.filter(pk=failed.pk).update(status="succeeded")
    RewardModelVersion.objects.create(project=project, path="/r", judgement_watermark=Judgement.objects.filter(
        project=project).aggregate(m=Max("pk"))["m"])
    assert new_usable_judgement_count(project=project) == 0
    assert projects_due_for_iteration() == []


@pytest.mark.django_db
def test_the_beat_skips_a_project_that_cannot_iterate_and_starts_the_others(tmp_path, django_capture_on_commit_callbacks):
    from annotation.models import Iteration, Project
    from workers.tasks import check_projects

    broken = judged_project(base_policy="", n_tasks=2, retrain_threshold=1)
    healthy = judged_project(base_policy=str(tmp_path), n_tasks=2, retrain_threshold=1)
    with django_capture_on_commit_callbacks():
        started = check_projects()
    assert started == [Iteration.objects.get(project=healthy).pk]
    assert not Iteration.objects.filter(project=broken).exists()
    assert Project.objects.count() == 2


def test_celery_routes_training_to_the_gpu_queue_with_limits_in_hours():
    from config.celery import app

    assert app.amqp.router.route({}, "workers.run_gpu_step")["queue"].name == "gpu"
    assert app.amqp.router.route({}, "workers.run_db_step")["queue"].name == "default"
    assert app.conf.task_acks_late and app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit >= 3600 and app.conf.task_serializer == "json"
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} >= {
        "workers.check_projects", "workers.fail_stale_training_jobs", "workers.record_evaluations"}
    assert app.conf.beat_schedule["check-projects"]["schedule"] == 60.0

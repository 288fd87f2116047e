"""Training steps under `accelerate launch`: the command lines the runner builds from the
project's `training_processes` and the deployment's settings, and one real step on 2 CPU processes."""
import json
import sys
from pathlib import Path

import pytest

from annotation.models import TrainingJob
from annotation.services.iterations import iteration_start
from tests.workers.conftest import judged_project
from workers.execution import execute_step
from workers.runner import training_argv

LAUNCH = [sys.executable, "-m", "accelerate.commands.launch"]


def _without_port(argv: list[str]) -> list[str]:
    """The command line minus `--main_process_port N` (a free port, different every time)."""
    at = argv.index("--main_process_port")
    assert int(argv[at + 1]) > 0
    return argv[:at] + argv[at + 2:]


@pytest.fixture
def deployment(settings, monkeypatch):
    """A deployment without an accelerate config or a process count, on a machine with `gpus` GPUs."""
    settings.ACCELERATE_CONFIG_FILE = ""
    settings.TRAINING_NUM_PROCESSES = 0
    gpus = {"count": 0}
    monkeypatch.setattr("workers.runner._gpu_count", lambda: gpus["count"])  # nvidia-smi cannot exist here
    return gpus


def test_one_process_and_no_config_is_plain_python(deployment):
    assert training_argv("dpo", ["--lr", "0.1"]) == [sys.executable, "-m", "training", "dpo", "--lr", "0.1", "--progress-json"]
    assert training_argv("dpo", [], processes=1)[:3] == [sys.executable, "-m", "training"]


def test_a_projects_process_count_launches_data_parallel_processes(deployment):
    assert _without_port(training_argv("ppo", ["--steps", "3"], processes=4)) == [
        *LAUNCH, "--multi_gpu", "--num_processes", "4", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "-m", "training", "ppo", "--steps", "3", "--progress-json"]


def test_the_deployment_default_applies_to_projects_that_set_none(deployment, settings):
    settings.TRAINING_NUM_PROCESSES = 2
    assert training_argv("reward", [])[:6] == [*LAUNCH, "--multi_gpu", "--num_processes", "2"]
    # a project that asks for one process gets one, whatever the deployment's default
    assert training_argv("reward", [], processes=1)[:3] == [sys.executable, "-m", "training"]


def test_without_a_count_every_gpu_is_used_when_there_are_several(deployment):
    deployment["count"] = 8
    assert training_argv("sft", [])[:6] == [*LAUNCH, "--multi_gpu", "--num_processes", "8"]
    deployment["count"] = 1
    assert training_argv("sft", [])[:3] == [sys.executable, "-m", "training"]


def test_an_accelerate_config_is_passed_with_the_count_overriding_its_own(deployment, settings):
    settings.ACCELERATE_CONFIG_FILE = "/etc/prefloop/deepspeed-zero3.yaml"
    assert _without_port(training_argv("sft", [])) == [
        *LAUNCH, "--config_file", "/etc/prefloop/deepspeed-zero3.yaml", "-m", "training", "sft", "--progress-json"]
    assert _without_port(training_argv("sft", [], processes=4)) == [
        *LAUNCH, "--config_file", "/etc/prefloop/deepspeed-zero3.yaml", "--num_processes", "4",
        "-m", "training", "sft", "--progress-json"]


def test_sampling_and_scoring_stay_single_process(deployment, settings):
    settings.TRAINING_NUM_PROCESSES = 4
    settings.ACCELERATE_CONFIG_FILE = "/etc/prefloop/fsdp.yaml"
    for command in ("generate", "score", "evaluate-reward", "embed"):
        assert training_argv(command, [], processes=4)[:4] == [sys.executable, "-m", "training", command]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_project_with_two_training_processes_runs_its_dpo_step_on_two(tiny_policy, deployment, settings):
    # Given a DPO project that asks for 2 training processes (CPU here: gloo)
    settings.TRAINING_DEVICE = "cpu"
    project = judged_project(base_policy=tiny_policy, n_tasks=6, training_processes=2,
                             hyperparameters={"dpo": {"max_steps": 1, "batch_size": 2, "max_length": 64}})
    iteration = iteration_start(project=project, algorithm="dpo").iteration
    jobs = {job.step: job for job in iteration.jobs.all()}
    assert execute_step(job_id=jobs["snapshot"].pk).succeeded
    assert execute_step(job_id=jobs["sft"].pk).succeeded

    # When the DPO step runs
    outcome = execute_step(job_id=jobs["dpo"].pk)

    # Then it ran as 2 processes, and rank 0 alone reported: one final result, one output
    job = TrainingJob.objects.get(pk=jobs["dpo"].pk)
    assert outcome.succeeded, job.error
    run = json.loads((Path(job.artifact_path) / "training_config.json").read_text())
    assert run["processes"] == 2
    assert job.metrics["algorithm"] == "dpo"
    steps = [(entry["step"], "train_loss" in entry) for entry in job.metrics_history if entry.get("command") == "dpo"]
    assert steps and len(steps) == len(set(steps)), f"progress reported by several ranks: {steps}"

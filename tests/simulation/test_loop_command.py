"""A short headless loop: real gunicorn, a real Celery worker on Redis, Postgres, tiny models."""
import io
import json

import pytest
from django.core.management import call_command

from annotation.models import ComparisonTask, Iteration, Judgement, PolicyVersion, Project, TrainingJob
from simulation.demo_setup import base_policy_build, base_policy_dir
from simulation.experiments.loop_runner import KL_SAFETY, LoopConfig, default_hyperparameters, ppo_kl_schedule
from simulation.pretrained import pretrained_encoder
from simulation.experiments.report import PLOT_FILES

TINY = {
    "reward": {"epochs": 1, "max_length": 128},
    "ppo": {"steps": 2, "batch_size": 8, "minibatch_size": 4, "max_new_tokens": 24},
    "generate": {"train_prompts": 4, "eval_prompts": 3, "max_new_tokens": 24},
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_one_iteration_loop_runs_end_to_end_and_writes_its_report(artifact_root, settings, tmp_path):
    settings.TRAINING_DEVICE = "cpu"
    small = ["--hidden-size", "64", "--num-layers", "2", "--intermediate-size", "256", "--pretrain-steps", "40"]
    base_policy_build(output=base_policy_dir(), extra_args=[*small, "--device", "cpu"])
    output = tmp_path / "report"
    stdout = io.StringIO()

    call_command(
        "loop", "--iterations", "1", "--annotators", "4", "--tasks-per-prompt", "1", "--samples-per-prompt", "2",
        "--port", "18650", "--hyperparameters", json.dumps(TINY), "--output", str(output),
        "--iteration-timeout", "900", stdout=stdout,
    )

    document = json.loads((output / "report.json").read_text())
    assert document["config"]["iterations"] == 1 and document["config"]["annotators"] == 4
    assert document["base"]["gold"]["n"] > 0
    [entry] = document["iterations"]
    assert entry["status"] == "succeeded", entry.get("error")
    assert entry["judgements"] > 0 and entry["annotation_errors"] == []
    assert 0.0 <= entry["agreement"] <= 1.0
    assert 0.0 <= entry["reward_model"]["gold_accuracy"] <= 1.0 and entry["reward_model"]["n_eval_pairs"] > 50
    assert entry["policy"]["gold"]["n"] > 0 and entry["policy"]["kl_to_reference"] is not None
    assert entry["policy"]["proxy_mean"] is not None
    assert entry["human_eval"]["vs_reference"]["n"] > 0
    assert entry["human_eval"]["source"].startswith("platform")
    assert set(entry["overoptimization"]) >= {"flag", "reason", "platform_flag", "gold_flag", "gold_reason"}
    assert entry["ppo_steps"] and all("kl" in step for step in entry["ppo_steps"])
    assert document["verdict"]["reason"]
    for name in PLOT_FILES.values():
        assert (output / name).read_bytes()[:4] == b"\x89PNG"
    assert "| 1 | succeeded |" in (output / "summary.md").read_text()

    # The platform really did the work: judgements over HTTP, every step of the iteration, new tasks.
    project = Project.objects.get(pk=document["config"]["project_id"])
    iteration = Iteration.objects.get(project=project)
    assert Judgement.objects.filter(project=project).count() == document["judgements_total"]
    assert set(TrainingJob.objects.filter(iteration=iteration).values_list("status", flat=True)) == {"succeeded"}
    assert ComparisonTask.objects.filter(iteration=iteration, purpose="training").exists()
    assert ComparisonTask.objects.filter(iteration=iteration, purpose="evaluation").exists()
    # The loop refreshed the platform's own evaluation (what the beat does) once the tasks were judged.
    assert iteration.summary["evaluation"]["win_rates"][0]["n_judgements"] == entry["human_eval"]["vs_reference"]["n"]
    assert entry["overoptimization"]["flag"] == iteration.overoptimization_flag
    assert PolicyVersion.objects.filter(project=project, is_reference=True).count() == 1
    assert "Report:" in stdout.getvalue()
    # The reward model starts from pretrained MiniLM; PPO got this iteration's KL cap (the whole
    # budget is the last iteration's, and this run has one).
    assert project.reward_base_model == pretrained_encoder()
    assert iteration.hyperparameters["ppo"]["max_kl"] == round(KL_SAFETY * 8.0, 3)
    assert iteration.jobs.get(step="reward").metrics["trainable_parameters"] > 1_000_000


@pytest.mark.django_db
def test_loop_refuses_bad_options_with_one_line_errors():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--iterations"):
        call_command("loop", "--iterations", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--hyperparameters"):
        call_command("loop", "--hyperparameters", "{nope", stdout=io.StringIO())


def test_the_kl_budget_opens_in_equal_parts_and_the_last_iteration_gets_it_all_with_a_margin(tmp_path):
    config = LoopConfig(output=tmp_path, iterations=4, kl_budget=8.0)
    caps = [ppo_kl_schedule(config, number)["max_kl"] for number in range(1, 5)]
    assert caps == [round(KL_SAFETY * 2.0 * n, 3) for n in range(1, 5)] and caps[-1] < 8.0
    assert default_hyperparameters(config)["ppo"]["max_kl"] == caps[-1]


def loop_options(*args: str) -> dict:
    from simulation.management.commands.loop import Command

    return vars(Command().create_parser("manage.py", "loop").parse_args(list(args)))


def test_the_overoptimized_run_uses_a_small_reward_model_and_no_kl_cap(tmp_path):
    from simulation.management.commands.loop import loop_config_from_options

    config = loop_config_from_options(loop_options("--overoptimize", "--output", str(tmp_path)))
    assert config.reward_backbone == "policy" and config.iterations == 2
    assert config.hyperparameters["ppo"]["max_kl"] == 0 and config.hyperparameters["ppo"]["init_kl_coef"] == 0.0

    config = loop_config_from_options(loop_options("--output", str(tmp_path)))
    assert config.reward_backbone == "minilm" and config.iterations == 3 and config.hyperparameters == {}

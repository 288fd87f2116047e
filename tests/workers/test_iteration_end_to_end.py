"""A whole iteration on a real Celery worker with tiny local models: snapshot, SFT, reward model,
PPO, generation with new comparison tasks, the AI pseudo-annotator, evaluation tasks. The first
run fails at the reward step (a bad reward base model); the re-run resumes there."""
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.models import (
    ComparisonTask,
    Iteration,
    Judgement,
    Membership,
    PolicyVersion,
    Project,
    Prompt,
    Response,
    RewardModelVersion,
)
from annotation.services.tasks import response_content_hash
from tests.annotation.factories import add_member, client_for
from tests.workers.conftest import judged_project

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Small enough that the whole iteration takes about a minute on 2 busy CPU cores.
TINY = {
    "seed": 1,
    "sft": {"max_steps": 2, "batch_size": 2, "max_length": 64},
    "reward": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "logging_steps": 1, "max_length": 64},
    "ppo": {"steps": 2, "batch_size": 4, "minibatch_size": 2, "ppo_epochs": 1, "lr": 1e-4, "max_new_tokens": 8},
    "generate": {"train_prompts": 4, "eval_prompts": 3, "max_new_tokens": 12},
    "rlaif": {"max_tasks": 6},
}


def _add_demonstrations(project: Project, n: int) -> None:
    for prompt in Prompt.objects.filter(project=project, split="train").order_by("pk")[:n]:
        text = f"A careful, kind answer to: {prompt.text}"
        Response.objects.create(prompt=prompt, text=text, source=Response.Source.HUMAN,
                                content_hash=response_content_hash(text))


def test_an_iteration_runs_end_to_end_and_resumes_after_a_failed_step(tiny_policy, celery_worker, tmp_path):
    # Given a judged project with demonstrations, eval prompts, the AI judge on, and a reward base
    # model that does not exist
    project = judged_project(base_policy=tiny_policy, n_tasks=12, n_eval_prompts=3, hyperparameters=TINY,
                             rlaif_enabled=True)
    _add_demonstrations(project, 3)
    Project.objects.filter(pk=project.pk).update(reward_base_model=str(tmp_path / "no-such-model"))

    # When an engineer runs the loop and waits, it fails at the reward step with the CLI's message
    with pytest.raises(CommandError, match="reward"):
        call_command("iterate", str(project.pk), "--wait", "--timeout", "300")
    iteration = Iteration.objects.get(project=project)
    steps = {job.step: job for job in iteration.jobs.all()}
    assert iteration.status == "failed"
    assert steps["snapshot"].status == steps["sft"].status == "succeeded"
    assert steps["reward"].status == "failed" and "no such model directory" in steps["reward"].error
    assert steps["ppo"].status == "queued"
    snapshot_started = steps["snapshot"].started_at
    sft_finished = steps["sft"].finished_at

    # When the reward base model is fixed and the iteration resumed
    Project.objects.filter(pk=project.pk).update(reward_base_model="")
    call_command("iterate", str(project.pk), "--resume", "--wait", "--timeout", "400")

    # Then every step succeeded with metrics; the steps that had succeeded were not redone
    iteration.refresh_from_db()
    jobs = list(iteration.jobs.order_by("order"))
    assert [job.step for job in jobs] == ["snapshot", "sft", "reward", "ppo", "generate", "rlaif", "evaluate"]
    assert iteration.status == "succeeded", [(job.step, job.status, job.error) for job in jobs]
    assert all(job.status == "succeeded" and job.metrics and job.progress == 1.0 for job in jobs)
    steps = {job.step: job for job in jobs}
    print({job.step: round((job.finished_at - job.started_at).total_seconds(), 1) for job in jobs})
    assert steps["snapshot"].started_at == snapshot_started and steps["sft"].finished_at == sft_finished

    # the snapshot: versioned JSONL files under ARTIFACT_ROOT/<project>/<iteration>/ and their hash
    snapshot = Path(steps["snapshot"].artifact_path)
    assert snapshot.parts[-3:] == (str(project.pk), "1", "snapshot")
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["dataset_hash"] == iteration.dataset_hash and manifest["n_pairs_train"] == 12
    assert steps["sft"].metrics["skipped"] is False  # demonstrations were new

    # the reward model and the policy were trained for real, with per-step metrics streamed in
    reward_model = RewardModelVersion.objects.get(iteration=iteration)
    assert reward_model.n_pairs == 12 and Path(reward_model.path, "metrics.json").exists()
    human = Judgement.objects.filter(project=project, is_ai=False)
    assert reward_model.judgement_watermark == human.order_by("-pk").first().pk
    assert steps["reward"].metrics_history and steps["ppo"].metrics_history
    policy = PolicyVersion.objects.get(project=project, name="iteration-1")
    assert iteration.policy_after == policy and policy.parent.is_reference
    assert any(Path(policy.path).glob("*.safetensors"))

    # the new policy's samples went back to annotators: training tasks against the reference...
    training = ComparisonTask.objects.filter(iteration=iteration, purpose="training")
    assert training.count() == steps["generate"].metrics["training_tasks_created"] > 0
    for task in training:
        versions = set(task.responses.values_list("policy_version__name", flat=True))
        assert versions == {"iteration-1", "reference"}
    # ...scored by the reward model for the overoptimization monitor
    new_samples = Response.objects.filter(policy_version=policy, tasks__in=training)
    assert all(str(reward_model.pk) in r.metadata["rewards"] for r in new_samples)
    # ...judged in part by the AI pseudo-annotator, marked as such
    ai = Membership.objects.get(project=project, is_ai=True)
    ai_judgements = Judgement.objects.filter(project=project, annotator=ai.user)
    assert ai_judgements.count() == steps["rlaif"].metrics["judged"] > 0
    assert all(j.is_ai for j in ai_judgements)
    assert steps["rlaif"].metrics["scored_now"] == 0  # the reward model's scores from `generate` were reused
    # and blind evaluation tasks on the held-out prompts
    evaluation = ComparisonTask.objects.filter(iteration=iteration, purpose="evaluation")
    assert evaluation.count() == steps["evaluate"].metrics["evaluation_tasks_created"] > 0
    assert set(evaluation.values_list("prompt__split", flat=True)) == {"eval"}

    # The engineer's view of it through the API
    engineer = add_member(project, role=Membership.Role.ENGINEER)
    detail = client_for(engineer).get(f"/api/iterations/{iteration.pk}/").json()
    assert detail["status"] == "succeeded" and detail["progress"] == 1.0
    assert detail["tasks"] == {"training": training.count(), "evaluation": evaluation.count()}
    assert detail["evaluation"]["win_rates"][0]["opponent"] == "reference"
    assert {s["step"]: s["artifact_path"] for s in detail["steps"]}["ppo"] == policy.path

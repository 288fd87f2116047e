"""What each step of an iteration does. Each step reads what earlier steps recorded (the snapshot
files, the registered versions), does its work, and returns its metrics; the task that called it
records them. Every step is idempotent: re-running it overwrites its own outputs only.
"""
import json
import random
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.errors import DomainError
from annotation.models import ComparisonTask, Iteration, PolicyVersion, TrainingJob
from annotation.selectors.iteration_steps import (
    iteration_step_job,
    policy_responses_to_prompts,
    prompt_ids_answered_by,
    sft_job_on_demonstrations,
    task_responses,
)
from annotation.services.iteration_rlaif import (
    ai_annotator_ensure,
    ai_candidate_tasks,
    ai_judgements_submit,
)
from annotation.services.iteration_snapshot import (
    dataset_snapshot_write,
    iteration_directory,
    prompt_payload,
)
from annotation.services.iteration_tasks import (
    iteration_comparisons_create,
    policy_responses_store,
    response_rewards_store,
    task_uncertainties_update,
)
from annotation.services.iterations import (
    iteration_set_policy_before,
    policy_reference_ensure,
    policy_version_register,
    reward_model_register,
)
from training.jsonl import read_jsonl, write_jsonl
from workers.runner import StepFailed, run_training_command

# Options of the `generate` section that the platform uses itself (how many prompts to sample)
# rather than passing to the CLI.
GENERATE_PLATFORM_OPTIONS = frozenset({"train_prompts", "eval_prompts"})
DEFAULT_TRAIN_PROMPTS = 16
DEFAULT_EVAL_PROMPTS = 16
DEFAULT_RLAIF_TASKS = 32


@dataclass(frozen=True)
class StepOutcome:
    metrics: dict
    artifact_path: str = ""


def cli_options(section: dict, *, exclude: frozenset = frozenset()) -> list[str]:
    """`{"max_steps": 5, "whiten_rewards": True}` -> `["--max-steps", "5", "--whiten-rewards"]`."""
    options: list[str] = []
    for name, value in section.items():
        if name in exclude:
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            options.append(flag if value else "--no-" + flag[2:])
        else:
            options += [flag, str(value)]
    return options


def _seed(iteration: Iteration) -> int:
    return int(iteration.hyperparameters.get("seed", iteration.number))


def _common(iteration: Iteration, output: Path) -> list[str]:
    # a built-in base policy (e.g. smollm2-135m-instruct) is materialized once under ARTIFACT_ROOT/models
    return ["--output", str(output), "--seed", str(_seed(iteration)), "--device", settings.TRAINING_DEVICE,
            "--models-dir", str(Path(settings.ARTIFACT_ROOT) / "models")]


def _section(iteration: Iteration, name: str) -> dict:
    return dict(iteration.hyperparameters.get(name) or {})


def _job_metrics(iteration: Iteration, step: str) -> dict:
    job = iteration_step_job(iteration=iteration, step=step)
    if job is None or job.status != TrainingJob.Status.SUCCEEDED:
        raise StepFailed(f"step {step!r} has not succeeded yet.")
    return job.metrics


def _snapshot_path(iteration: Iteration, name: str) -> Path:
    return Path(_job_metrics(iteration, "snapshot")["directory"]) / name


def run_snapshot(job: TrainingJob) -> StepOutcome:
    """Freezes the consensus pairs, demonstrations and prompts into versioned JSONL files."""
    iteration = job.iteration
    policy_before = iteration_set_policy_before(iteration=iteration)
    try:
        snapshot = dataset_snapshot_write(iteration=iteration)
    except DomainError as error:
        raise StepFailed(error.message) from error
    return StepOutcome({**snapshot.as_metrics(), "policy_before": policy_before.name}, snapshot.directory)


def run_sft(job: TrainingJob) -> StepOutcome:
    """Supervised fine-tuning on the demonstrations, only when they changed since the last SFT."""
    iteration = job.iteration
    snapshot = _job_metrics(iteration, "snapshot")
    demonstrations_hash = snapshot["demonstrations_hash"]
    if not snapshot["n_demonstrations"]:
        return StepOutcome({"skipped": True, "reason": "no demonstrations"})
    earlier = sft_job_on_demonstrations(iteration=iteration, demonstrations_hash=demonstrations_hash)
    if earlier is not None:
        return StepOutcome({"skipped": True, "reason": f"demonstrations unchanged since iteration "
                                                        f"{earlier.iteration.number}",
                            "demonstrations_hash": demonstrations_hash})
    output = iteration_directory(iteration) / "sft"
    result = run_training_command(
        job=job, command="sft",
        options=[*cli_options(_section(iteration, "sft")),
                 "--base-model", iteration.policy_before.path,
                 "--train", str(_snapshot_path(iteration, "demos.jsonl")), *_common(iteration, output)],
    )
    return StepOutcome({**result.metrics, "skipped": False, "demonstrations_hash": demonstrations_hash,
                        "seconds": round(result.elapsed_seconds, 2)}, str(output))


def run_reward(job: TrainingJob) -> StepOutcome:
    """Trains the reward model on the snapshot's consensus pairs and registers it."""
    iteration = job.iteration
    snapshot = _job_metrics(iteration, "snapshot")
    base_model = iteration.project.reward_base_model or policy_reference_ensure(project=iteration.project).path
    output = iteration_directory(iteration) / "reward"
    options = [*cli_options(_section(iteration, "reward")), "--base-model", base_model,
               "--train", str(_snapshot_path(iteration, "pairs_train.jsonl")), *_common(iteration, output)]
    if snapshot["n_pairs_eval"]:
        options += ["--eval", str(_snapshot_path(iteration, "pairs_eval.jsonl"))]
    result = run_training_command(job=job, command="reward", options=options)
    metrics = {**result.metrics, "seconds": round(result.elapsed_seconds, 2)}
    reward_model = reward_model_register(
        iteration=iteration, path=str(output), n_pairs=snapshot["n_pairs_train"] + snapshot["n_pairs_eval"],
        judgement_watermark=snapshot["judgement_watermark"], metrics=metrics,
    )
    return StepOutcome({**metrics, "reward_model_id": reward_model.pk}, str(output))


def run_policy_optimization(job: TrainingJob) -> StepOutcome:
    """PPO, RLOO (against the new reward model) or DPO (on the pairs) from the starting policy."""
    iteration = job.iteration
    sft = iteration_step_job(iteration=iteration, step="sft")
    trained = sft is not None and sft.artifact_path and not sft.metrics.get("skipped")
    start = sft.artifact_path if trained else iteration.policy_before.path
    output = iteration_directory(iteration) / "policy"
    algorithm = iteration.algorithm
    options = [*cli_options(_section(iteration, algorithm)), "--policy", start]
    if algorithm == "dpo":
        options += ["--train", str(_snapshot_path(iteration, "pairs_train.jsonl"))]
    else:
        if iteration.reward_model is None:
            raise StepFailed("no reward model: the reward step has not succeeded.")
        options += ["--reward-model", iteration.reward_model.path,
                    "--prompts", str(_snapshot_path(iteration, "prompts.jsonl"))]
    if algorithm == "ppo":
        # KL to the project's reference, not to this iteration's start: the KL target and
        # budget then bound the drift of the whole run instead of restarting each iteration.
        reference = policy_reference_ensure(project=iteration.project)
        if Path(reference.path).resolve() != Path(start).resolve():
            options += ["--reference", reference.path]
    result = run_training_command(job=job, command=algorithm, options=[*options, *_common(iteration, output)])
    metrics = {**result.metrics, "algorithm": algorithm, "seconds": round(result.elapsed_seconds, 2)}
    policy = policy_version_register(iteration=iteration, path=str(output), metrics=metrics)
    return StepOutcome({**metrics, "policy": policy.name}, str(output))


def _sample_prompts(iteration: Iteration) -> tuple[list[dict], list[dict]]:
    """The train and eval prompts this iteration samples (a fixed draw, so re-runs agree)."""
    section = _section(iteration, "generate")
    rng = random.Random(_seed(iteration))
    train = read_jsonl(_snapshot_path(iteration, "prompts.jsonl"))
    evaluation = read_jsonl(_snapshot_path(iteration, "eval_prompts.jsonl"))
    train = rng.sample(train, min(len(train), int(section.get("train_prompts", DEFAULT_TRAIN_PROMPTS))))
    evaluation = rng.sample(evaluation, min(len(evaluation), int(section.get("eval_prompts", DEFAULT_EVAL_PROMPTS))))
    return train, evaluation


def _opponents(iteration: Iteration) -> list[PolicyVersion]:
    """The previous policy and the reference (once, when they are the same)."""
    opponents = {iteration.policy_before.pk: iteration.policy_before}
    reference = policy_reference_ensure(project=iteration.project)
    opponents.setdefault(reference.pk, reference)
    return [o for o in opponents.values() if o.pk != iteration.policy_after_id]


def run_generate(job: TrainingJob) -> StepOutcome:
    """Samples the new policy (and, where missing, its opponents) on train and eval prompts, scores
    the samples with the new reward model, and creates training comparison tasks."""
    iteration = job.iteration
    new_policy = iteration.policy_after
    if new_policy is None:
        raise StepFailed("no new policy: the policy optimization step has not succeeded.")
    directory = iteration_directory(iteration) / "generate"
    directory.mkdir(parents=True, exist_ok=True)
    train, evaluation = _sample_prompts(iteration)
    (directory / "sample.json").write_text(json.dumps({
        "train_prompt_ids": [row["id"] for row in train], "eval_prompt_ids": [row["id"] for row in evaluation],
    }))
    options = cli_options(_section(iteration, "generate"), exclude=GENERATE_PLATFORM_OPTIONS)
    policies = [new_policy, *_opponents(iteration)]
    reference = policy_reference_ensure(project=iteration.project)
    metrics: dict = {"train_prompts": len(train), "eval_prompts": len(evaluation)}
    span = 0.8 / len(policies)
    for index, policy in enumerate(policies):
        have = prompt_ids_answered_by(policy=policy)
        rows = [row for row in train + evaluation if policy == new_policy or row["id"] not in have]
        if not rows:
            continue
        prompts_file = write_jsonl(directory / f"prompts_{policy.pk}.jsonl", rows)
        output = directory / f"samples_{policy.pk}.jsonl"
        extra = ["--reference", reference.path] if policy.pk != reference.pk else []
        # Independent samples per policy: with one shared seed, two nearly equal policies would
        # write the same texts, and identical responses make no comparison.
        run_training_command(
            job=job, command="generate", progress_span=(index * span, (index + 1) * span),
            options=[*options, "--policy", policy.path, "--prompts", str(prompts_file), *extra,
                     "--model-name", policy.name, *_common(iteration, output),
                     "--seed", str(_seed(iteration) + policy.pk)],
        )
        samples = read_jsonl(output)
        metrics[f"responses_{policy.name}"] = policy_responses_store(policy=policy, rows=samples, iteration=iteration)
        kls = [row["kl"] for row in samples if isinstance(row.get("kl"), (int, float))]
        if kls and policy == new_policy:
            metrics["kl_to_reference_mean"] = sum(kls) / len(kls)
    metrics.update(_score_samples(job, iteration, policies, [row["id"] for row in train], directory))
    metrics["training_tasks_created"] = iteration_comparisons_create(
        iteration=iteration, prompt_ids=[row["id"] for row in train], new_policy=new_policy,
        opponents=policies[1:], purpose=ComparisonTask.Purpose.TRAINING,
    )
    if iteration.reward_model_id is not None:
        metrics["tasks_with_uncertainty"] = task_uncertainties_update(
            project=iteration.project, reward_model_id=iteration.reward_model_id
        )
    return StepOutcome(metrics, str(directory))


def _score_samples(job, iteration: Iteration, policies: list[PolicyVersion], prompt_ids: list[int],
                   directory: Path) -> dict:
    """Scores the policies' responses on the sampled train prompts with the iteration's reward
    model (the overoptimization monitor compares these scores with the annotators' verdicts)."""
    reward_model = iteration.reward_model
    responses = policy_responses_to_prompts(policies=policies, prompt_ids=prompt_ids)
    if reward_model is None or not responses:
        return {}
    data = write_jsonl(directory / "to_score.jsonl", [
        {"prompt": prompt_payload(r.prompt), "response": r.text, "response_id": r.pk} for r in responses
    ])
    output = directory / "scores.jsonl"
    run_training_command(
        job=job, command="score", progress_span=(0.8, 1.0),
        options=["--reward-model", reward_model.path, "--data", str(data), *_common(iteration, output)],
    )
    scores = {row["response_id"]: row["reward"] for row in read_jsonl(output)
              if isinstance(row.get("reward"), (int, float))}
    response_rewards_store(reward_model_id=reward_model.pk, scores=scores)
    metrics = {}
    for policy in policies:
        values = [scores[r.pk] for r in responses if r.policy_version_id == policy.pk and r.pk in scores]
        if values:
            metrics[f"reward_mean_{policy.name}"] = sum(values) / len(values)
    return metrics


def run_rlaif(job: TrainingJob) -> StepOutcome:
    """The AI pseudo-annotator judges open training tasks (this iteration's first) by the scores
    of a judge model: `hyperparameters.rlaif.judge_model` if given, else the new reward model."""
    iteration = job.iteration
    section = _section(iteration, "rlaif")
    judge_model = section.get("judge_model") or (iteration.reward_model.path if iteration.reward_model else None)
    if not judge_model:
        raise StepFailed("no judge model: set hyperparameters.rlaif.judge_model or train a reward model first.")
    max_tasks = int(section.get("max_tasks", DEFAULT_RLAIF_TASKS))
    annotator = ai_annotator_ensure(project=iteration.project)
    tasks = ai_candidate_tasks(project=iteration.project, annotator=annotator, limit=max_tasks)
    links = task_responses(tasks=tasks)
    if not links:
        return StepOutcome({"judged": 0, "skipped": 0, "judge_model": judge_model})
    directory = iteration_directory(iteration) / "rlaif"
    directory.mkdir(parents=True, exist_ok=True)
    scores: dict[int, float] = {}
    if not section.get("judge_model"):
        # The generate step already scored the new samples with this reward model: reuse them.
        key = str(iteration.reward_model_id)
        scores = {link.response_id: float(link.response.metadata["rewards"][key]) for link in links
                  if isinstance(link.response.metadata.get("rewards", {}).get(key), (int, float))}
    missing = [link for link in links if link.response_id not in scores]
    if missing:
        data = write_jsonl(directory / "to_score.jsonl", [
            {"prompt": prompt_payload(link.response.prompt), "response": link.response.text,
             "response_id": link.response_id}
            for link in missing
        ])
        output = directory / "scores.jsonl"
        run_training_command(
            job=job, command="score",
            options=["--reward-model", judge_model, "--data", str(data), *_common(iteration, output)],
        )
        scores.update({row["response_id"]: float(row["reward"]) for row in read_jsonl(output)
                       if isinstance(row.get("reward"), (int, float))})
    result = ai_judgements_submit(project=iteration.project, annotator=annotator, scores=scores,
                                  max_tasks=len(tasks) + 8)
    return StepOutcome({"judged": result.judged, "skipped": result.skipped, "judge_model": judge_model,
                        "scored_now": len(missing), "ai_annotator": annotator.username}, str(directory))


def run_evaluate(job: TrainingJob) -> StepOutcome:
    """Creates blind evaluation tasks on held-out prompts: the new policy against the previous
    one and the reference. Results are computed as the tasks are judged."""
    iteration = job.iteration
    sample = json.loads((iteration_directory(iteration) / "generate" / "sample.json").read_text())
    created = iteration_comparisons_create(
        iteration=iteration, prompt_ids=sample["eval_prompt_ids"], new_policy=iteration.policy_after,
        opponents=_opponents(iteration), purpose=ComparisonTask.Purpose.EVALUATION,
    )
    return StepOutcome({"evaluation_tasks_created": created, "eval_prompts": len(sample["eval_prompt_ids"])})


STEP_RUNNERS = {
    "snapshot": run_snapshot,
    "sft": run_sft,
    "reward": run_reward,
    "ppo": run_policy_optimization,
    "dpo": run_policy_optimization,
    "rloo": run_policy_optimization,
    "generate": run_generate,
    "rlaif": run_rlaif,
    "evaluate": run_evaluate,
}
# Steps that only touch the database and files run on the `default` queue; every other step
# launches `python -m training ...` and runs on the `gpu` queue (see workers.tasks).
DB_STEPS = frozenset({"snapshot", "evaluate"})
GPU_STEPS = frozenset(STEP_RUNNERS) - DB_STEPS

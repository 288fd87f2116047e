"""Measuring policies and reward models against the hidden gold reward.

Models are only touched through the training CLI (`python -m training generate | score |
evaluate-reward`) in a child process, through `training.client` as the workers do: this module
never imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulation.corpus import demo_prompts, demo_responses
from simulation.gold_reward import gold_reward, prompt_text_of
from training.client import run_training_command
from training.jsonl import read_jsonl, write_jsonl

from .measure import MeanEstimate, mean_with_standard_error

# Gold gaps below this are near-ties: a held-out pair that even the gold reward barely orders says
# little about a reward model, so it is left out of the accuracy.
MIN_GOLD_GAP = 0.25


def conversation(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def evaluation_prompt_rows() -> list[dict]:
    """The held-out (eval split) demo prompts, as the conversations the platform stores."""
    return [{"prompt": conversation(p.text), "id": index}
            for index, p in enumerate(prompt for prompt in demo_prompts() if prompt.split == "eval")]


def gold_labelled_pairs(*, per_prompt: int = 12, seed: int = 1000) -> list[dict]:
    """Held-out pairs for reward-model accuracy: candidates to eval-split prompts (which no
    training task uses), ordered by the gold reward; near-ties are left out."""
    rows = []
    for prompt in demo_prompts():
        if prompt.split != "eval":
            continue
        candidates = demo_responses(prompt, n=2 * per_prompt, seed=seed)
        for first, second in zip(candidates[0::2], candidates[1::2]):
            gap = gold_reward(prompt.text, first.text) - gold_reward(prompt.text, second.text)
            if abs(gap) < MIN_GOLD_GAP:
                continue
            chosen, rejected = (first, second) if gap > 0 else (second, first)
            rows.append({
                "prompt": conversation(prompt.text),
                "chosen": [{"role": "assistant", "content": chosen.text}],
                "rejected": [{"role": "assistant", "content": rejected.text}],
            })
    return rows


def reward_model_gold_accuracy(*, reward_model: str, pairs_file: Path) -> dict:
    """Accuracy of a reward model on gold-labelled pairs: {"accuracy", "n", ...}."""
    metrics = run_training_command("evaluate-reward", ["--model", str(reward_model), "--data", str(pairs_file)]).metrics
    return {"accuracy": metrics.get("accuracy"), "n": metrics.get("n"), "ece": metrics.get("ece")}


def response_text(value) -> str:
    """A generated response as text (plain text or an assistant message list)."""
    if isinstance(value, list):
        return " ".join(str(m.get("content", "")) for m in value if isinstance(m, dict))
    return str(value or "")


@dataclass(frozen=True)
class PolicyMeasurement:
    """A policy's samples on held-out prompts, scored by gold (and optionally the proxy)."""

    gold: MeanEstimate
    kl_to_reference: float | None
    proxy_mean: float | None
    n_samples: int
    samples_file: Path | None = None

    def as_dict(self) -> dict:
        return {"gold": self.gold.as_dict(), "kl_to_reference": self.kl_to_reference,
                "proxy_mean": self.proxy_mean, "n_samples": self.n_samples}


def synthetic_gold_scores(rows: list[dict]) -> list[float]:
    """The synthetic world's hand-written gold reward of {prompt, response} rows."""
    return [gold_reward(prompt_text_of(row.get("prompt")), response_text(row.get("response"))) for row in rows]


def measure_policy(*, policy: str, reference: str, prompts_file: Path, output_dir: Path, samples_per_prompt: int,
                   seed: int, reward_model: str | None = None, max_new_tokens: int = 64,
                   gold_scores=synthetic_gold_scores) -> PolicyMeasurement:
    """Samples `policy` on the held-out prompts, scores the samples by the gold reward
    (`gold_scores`: rows -> rewards), the KL to `reference` (from the generate command) and, with a
    reward model, the proxy reward."""
    output_dir.mkdir(parents=True, exist_ok=True)
    samples_file = output_dir / "samples.jsonl"
    options = ["--policy", str(policy), "--prompts", str(prompts_file), "--output", str(samples_file),
               "--n", str(samples_per_prompt), "--seed", str(seed), "--max-new-tokens", str(max_new_tokens)]
    if Path(reference).resolve() != Path(policy).resolve():
        options += ["--reference", str(reference)]
    run_training_command("generate", options)
    samples = read_jsonl(samples_file)
    golds = gold_scores(samples)
    for row, value in zip(samples, golds):
        row["gold_reward"] = value
    write_jsonl(samples_file, samples)
    kls = [row["kl"] for row in samples if isinstance(row.get("kl"), (int, float))]
    kl = (sum(kls) / len(kls)) if kls else (0.0 if "--reference" not in options else None)
    proxy = proxy_mean(samples_file, reward_model, output_dir / "proxy-scores.jsonl") if reward_model else None
    return PolicyMeasurement(mean_with_standard_error(golds), kl, proxy, len(samples), samples_file)


def proxy_mean(samples_file: Path, reward_model: str, scored_file: Path) -> float | None:
    """Mean reward of the samples under a reward model (the proxy)."""
    run_training_command("score", ["--reward-model", str(reward_model), "--data", str(samples_file),
                                   "--output", str(scored_file)])
    rewards = [row["reward"] for row in read_jsonl(scored_file) if isinstance(row.get("reward"), (int, float))]
    return (sum(rewards) / len(rewards)) if rewards else None

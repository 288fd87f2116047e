"""Before and after on the same held-out requests: the gold win-rate against the base policy, and
a table of sample responses people can read.

Models are only touched through the training CLI, as in measurement.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from training.client import run_training_command
from training.jsonl import read_jsonl, write_jsonl

from .measurement import response_text

BOOTSTRAP_RESAMPLES = 2000
SHOWCASE_TOKENS = 96


def gold_win_rate(after: list[dict], before: list[dict], *, seed: int = 0) -> dict | None:
    """How often a sample of the new policy beats the base policy's sample of the same rank to the
    same request under the gold reward (ties count half), with a 95% bootstrap CI over requests
    (samples of one request are not independent)."""
    by_key = {(row["id"], index): row["gold_reward"] for index, row in _ranked(before)}
    outcomes: dict = {}
    for index, row in _ranked(after):
        other = by_key.get((row["id"], index))
        if other is None:
            continue
        outcome = 1.0 if row["gold_reward"] > other else 0.0 if row["gold_reward"] < other else 0.5
        outcomes.setdefault(row["id"], []).append(outcome)
    if not outcomes:
        return None
    groups = [np.asarray(values) for values in outcomes.values()]
    every = np.concatenate(groups)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(groups), size=(BOOTSTRAP_RESAMPLES, len(groups)))
    sums = np.array([sum(groups[i].sum() for i in draw) for draw in draws])
    counts = np.array([sum(len(groups[i]) for i in draw) for draw in draws])
    rates = sums / counts
    return {"win_rate": float(every.mean()), "ci_low": float(np.quantile(rates, 0.025)),
            "ci_high": float(np.quantile(rates, 0.975)), "wins": int((every == 1).sum()),
            "ties": int((every == 0.5).sum()), "losses": int((every == 0).sum()), "n": int(every.size),
            "n_prompts": len(groups), "opponent": "base (gold reward)"}


def _ranked(samples: list[dict]):
    """(index of the sample among its request's samples, row), in file order."""
    seen: dict = {}
    for row in samples:
        index = seen.get(row["id"], 0)
        seen[row["id"]] = index + 1
        yield index, row


def showcase_samples(*, prompts: list[dict], before: str, after: str, directory: Path, seed: int,
                     gold_scores) -> list[dict]:
    """One sample of each policy per request (same seed), with the gold reward of each."""
    directory = Path(directory)
    prompts_file = write_jsonl(directory / "prompts.jsonl", prompts)
    columns = {}
    for name, policy in (("before", before), ("after", after)):
        output = directory / f"{name}.jsonl"
        run_training_command("generate", ["--policy", str(policy), "--prompts", str(prompts_file), "--output",
                                          str(output), "--n", "1", "--seed", str(seed),
                                          "--max-new-tokens", str(SHOWCASE_TOKENS)])
        samples = read_jsonl(output)
        columns[name] = {row["id"]: (response_text(row["response"]), gold)
                         for row, gold in zip(samples, gold_scores(samples))}
    rows = []
    for prompt in prompts:
        before_text, before_gold = columns["before"].get(prompt["id"], ("", None))
        after_text, after_gold = columns["after"].get(prompt["id"], ("", None))
        rows.append({"prompt": response_text(prompt["prompt"]), "before": before_text, "before_gold": before_gold,
                     "after": after_text, "after_gold": after_gold})
    return rows

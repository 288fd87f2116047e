"""How many labels does active pair selection save? A pool-based experiment in the synthetic world.

Both strategies draw labels from the same pool of candidate pairs (demo-corpus train prompts),
labelled by the simulated crowd's Bradley-Terry choices, and train the same reward model:

- random: label pairs in a random order;
- uncertainty: after a random warm start, label next the pairs the current reward model is least
  sure about (|P(first preferred) - 0.5| smallest).

After each batch the reward model is evaluated on the held-out gold-labelled pairs; the report
compares how many labels each strategy needs to reach a target accuracy. Models are trained and
scored through the training CLI in child processes.
"""
from __future__ import annotations

import math
import random
from pathlib import Path

from tqdm import tqdm

from .corpus import demo_tasks
from .gold_reward import gold_reward
from .measurement import read_jsonl, reward_model_gold_accuracy, run_training_cli, write_jsonl
from .simulated_annotators import choose_ranking, default_profiles


def labelled_pool(*, seed: int, tasks_per_prompt: int, annotators: int) -> list[dict]:
    """Candidate pairs with one simulated judgement each: {prompt, chosen, rejected, first, second}."""
    rng = random.Random(seed)
    crowd = default_profiles(annotators, seed=seed)
    rows = []
    for task in demo_tasks(seed=seed + 500, tasks_per_prompt=tasks_per_prompt, split="train"):
        first, second = task.responses
        profile = rng.choice(crowd)
        rewards = [gold_reward(task.prompt.text, first.text), gold_reward(task.prompt.text, second.text)]
        order = choose_ranking(profile, rewards, rng)
        chosen, rejected = (first, second) if order[0] == 0 else (second, first)
        prompt = [{"role": "user", "content": task.prompt.text}]
        rows.append({
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": chosen.text}],
            "rejected": [{"role": "assistant", "content": rejected.text}],
            "first": first.text, "second": second.text,
        })
    return rows


def _train_and_evaluate(rows: list[dict], *, base_model: str, reward_options: list[str], directory: Path,
                        pairs_file: Path, seed: int) -> float:
    train_file = write_jsonl(directory / "train.jsonl", [
        {k: row[k] for k in ("prompt", "chosen", "rejected")} for row in rows
    ])
    model = directory / "reward"
    run_training_cli("reward", ["--base-model", base_model, "--train", str(train_file), "--output", str(model),
                                "--seed", str(seed), *reward_options])
    return reward_model_gold_accuracy(reward_model=str(model), pairs_file=pairs_file)["accuracy"]


def _uncertainty(rows: list[dict], *, model: Path, directory: Path) -> list[float]:
    """|P(first preferred) - 0.5| of each row under the reward model (smaller: less sure)."""
    data = []
    for index, row in enumerate(rows):
        data.append({"prompt": row["prompt"], "response": [{"role": "assistant", "content": row["first"]}],
                     "row": index, "side": 0})
        data.append({"prompt": row["prompt"], "response": [{"role": "assistant", "content": row["second"]}],
                     "row": index, "side": 1})
    scored = directory / "pool-scores.jsonl"
    run_training_cli("score", ["--reward-model", str(model), "--data", str(write_jsonl(directory / "pool.jsonl", data)),
                               "--output", str(scored)])
    rewards = [[0.0, 0.0] for _ in rows]
    for line in read_jsonl(scored):
        rewards[line["row"]][line["side"]] = float(line["reward"])
    return [abs(1.0 / (1.0 + math.exp(-(a - b))) - 0.5) for a, b in rewards]


def labels_needed(curve: list[dict], target: float) -> float | None:
    """Labels at which the curve first reaches `target` (linear interpolation), or None."""
    previous = None
    for point in curve:
        if point["accuracy"] is not None and point["accuracy"] >= target:
            if previous is None or previous["accuracy"] is None:
                return float(point["labels"])
            span = point["accuracy"] - previous["accuracy"]
            fraction = (target - previous["accuracy"]) / span if span > 0 else 1.0
            return previous["labels"] + fraction * (point["labels"] - previous["labels"])
        previous = point
    return None


def active_selection_experiment(*, base_model: str, pairs_file: Path, directory: Path, schedule=(32, 64, 128),
                                seed: int = 0, annotators: int = 6, tasks_per_prompt: int = 8,
                                reward_options: list[str] | None = None, target_accuracy: float | None = None) -> dict:
    """Runs both strategies over `schedule` label counts; returns the report's `active_selection`."""
    reward_options = reward_options or []
    pool = labelled_pool(seed=seed, tasks_per_prompt=tasks_per_prompt, annotators=annotators)
    schedule = [n for n in schedule if n <= len(pool)]
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    curves: dict[str, list[dict]] = {"random": [], "uncertainty": []}
    bar = tqdm(total=2 * len(schedule) - 1, desc="active selection", unit="model", dynamic_ncols=True)
    for n in schedule:
        accuracy = _train_and_evaluate([pool[i] for i in order[:n]], base_model=base_model,
                                       reward_options=reward_options, directory=directory / f"random-{n}",
                                       pairs_file=pairs_file, seed=seed)
        curves["random"].append({"labels": n, "accuracy": accuracy})
        bar.update(1)
    # Uncertainty sampling starts from the same random warm start as the random strategy.
    selected = order[: schedule[0]]
    curves["uncertainty"].append(dict(curves["random"][0]))
    for previous_n, n in zip(schedule, schedule[1:]):
        remaining = [i for i in order if i not in set(selected)]
        model = directory / (f"random-{previous_n}" if previous_n == schedule[0] else f"uncertainty-{previous_n}") / "reward"
        margins = _uncertainty([pool[i] for i in remaining], model=model, directory=directory / f"uncertainty-{n}")
        ranked = [i for _, i in sorted(zip(margins, remaining))]
        selected = selected + ranked[: n - previous_n]
        accuracy = _train_and_evaluate([pool[i] for i in selected], base_model=base_model,
                                       reward_options=reward_options, directory=directory / f"uncertainty-{n}",
                                       pairs_file=pairs_file, seed=seed)
        curves["uncertainty"].append({"labels": n, "accuracy": accuracy})
        bar.update(1)
    bar.close()
    if target_accuracy is None:
        # The best accuracy random labelling reached, a little below it so both can get there.
        target_accuracy = round(max(p["accuracy"] for p in curves["random"]) - 0.02, 3)
    needed = {name: labels_needed(curve, target_accuracy) for name, curve in curves.items()}
    reduction = (1.0 - needed["uncertainty"] / needed["random"]
                 if needed["random"] and needed["uncertainty"] is not None else None)
    return {"target_accuracy": target_accuracy, "curves": curves, "labels_needed": needed,
            "label_reduction": reduction, "pool_size": len(pool), "seed": seed}

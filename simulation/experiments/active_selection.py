"""How many labels does active pair selection save? A pool-based experiment in the synthetic world.

Every strategy draws labels from the same pool of candidate pairs (demo-corpus train prompts), each
labelled once by the loop's simulated crowd (`default_profiles` / `choose_ranking`: careful
Bradley-Terry annotators, one with a strong left-side bias, a random and an always-left spammer),
and trains the same reward model after every batch:

- random: label pairs in a random order;
- uncertainty: label next the pairs the current reward model is least sure about,
  |P(first preferred) - 0.5| smallest (what the platform's uncertainty ordering uses);
- ensemble: label next the pairs on which a bootstrap ensemble disagrees most (std of P);
- mixed: half of each batch by uncertainty, half at random (a standard guard against label noise
  and sampling bias);
- diverse: uncertainty, but at most one pair per prompt in a batch (batch-mode redundancy: the 16
  least certain pairs otherwise cluster on a few prompts);
- information: label next the batch that adds most to the head's Fisher information (greedy batch
  D-optimal design on its Laplace posterior, `most_informative`): unsure pairs in directions of
  feature space that the labels so far have not pinned down, and not two pairs for one direction;
- variance: the same without the p(1-p) factor (explores, ignoring where the boundary sits);
- prediction: the batch whose labels would most shrink the head's uncertainty about its
  predictions on unlabelled pool pairs (target-aware, EPIG-like, `most_predictive`);
- sign: the pairs whose better side the head is least sure of, |mean gap| / posterior std
  smallest, in greedy rank-one batches (`least_sure_of_sign`).

The scores themselves live in `simulation.experiments.acquisition`.

With `--learn-reliability` the head also learns how far to trust each annotator (EM,
`fit_with_annotator_reliability`), as the platform's reliability-weighted consensus does.

The reward model is a Bradley-Terry linear head over frozen MiniLM embeddings (`training.embedding`,
`training.linear_reward`): it learns from a few hundred labels and refits in milliseconds, so many
rounds and seeds are affordable on a CPU. Texts are embedded once, in a `python -m training embed`
child process. After each batch the model's accuracy on held-out gold-labelled pairs (eval-split
prompts, `gold_labelled_pairs`) is recorded; the report compares how many labels each strategy needs
to reach a target accuracy.

Standalone: `python -m simulation.experiments.active_selection --seeds 8 --output DIR`.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import statistics
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simulation.corpus import demo_tasks
from simulation.gold_reward import gold_reward
from simulation.pretrained import pretrained_encoder
from simulation.simulated_annotators import choose_ranking, default_profiles
from training.client import run_training_command
from training.jsonl import read_jsonl, write_jsonl
from training.linear_reward import (
    fit_bradley_terry_head,
    fit_with_annotator_reliability,
    pairwise_accuracy,
    reward_features,
)

from .acquisition import (
    least_certain,
    least_certain_per_group,
    least_sure_of_sign,
    most_disputed,
    most_informative,
    most_predictive,
)
from .measurement import gold_labelled_pairs

STRATEGIES = ("random", "uncertainty", "ensemble", "mixed", "diverse", "information", "variance", "prediction", "sign")
HEADLINE_STRATEGY = "uncertainty"  # the "order tasks by reward-model uncertainty"
# Chosen with the features on random-selection learning curves only (seeds 0-3, 50-400 crowd labels;
# so the choice cannot favour an active strategy): accuracy at 400 labels was within 0.01 for l2 in
# [0.3, 3]; 0.01 overfit the first batches.
L2 = 1.0
ENSEMBLE_MEMBERS = 5
PREDICTION_TARGETS = 256  # unlabelled pairs the `prediction` score looks at
TARGET_FRACTION = 0.95  # target accuracy = this share of what random labelling reaches with the whole budget
EVAL_PAIRS_PER_PROMPT = 48  # ~450 held-out pairs: accuracy SE ~0.02 per model (the loop's 115 give ~0.04)
# As many labels as one `manage.py loop` iteration collects (1,024 judgements), bought 32 at a time
# from a pool 4x that size (each prompt's 64 candidates paired again): the setting of the headline.
LOOP_SCALE = {"tasks_per_prompt": 32, "pairs_per_prompt": 128, "budget": 1024, "batch_size": 32,
              "strategies": ("random", "uncertainty", "mixed", "diverse", "information", "sign")}
# The platform's uncertainty option as it runs: the first iteration's 1,024 labels come in random
# order (there is no reward model yet), then the head fitted on them ranks the next iteration's
# tasks once. The head pools MiniLM's layer 4, the best layer on random ordering alone.
PLATFORM_AS_BUILT = {"tasks_per_prompt": 32, "pairs_per_prompt": 256, "budget": 2048, "batch_size": 32,
                     "rank_once_after": 1024, "layer": 4, "strategies": ("random", "uncertainty")}


def labelled_pool(*, seed: int, tasks_per_prompt: int, annotators: int, noise_free: bool = False,
                  pairs_per_prompt: int | None = None) -> list[dict]:
    """Candidate pairs with one simulated judgement each, in display order (first shown = `first`):
    {prompt, chosen, rejected, prompt_text, first, second, first_preferred, annotator}. `noise_free`
    replaces the crowd by the gold reward itself (an ablation: how much of the result is label noise).

    By default the pool is the demo tasks themselves (tasks_per_prompt disjoint pairs per prompt).
    With `pairs_per_prompt` the same 2 x tasks_per_prompt candidate responses of each prompt are
    paired again: that many distinct pairs drawn from all of their pairings, as a platform pairs up
    a policy's samples. Candidates are cheap and labels are not, so the pool can be larger than the
    label budget many times over without a single new response."""
    rng = random.Random(seed)
    crowd = default_profiles(annotators, seed=seed)
    tasks = demo_tasks(seed=seed + 500, tasks_per_prompt=tasks_per_prompt, split="train")
    if pairs_per_prompt is None:
        candidate_pairs = [(task.prompt, *task.responses) for task in tasks]
    else:
        candidate_pairs = _repaired(tasks, pairs_per_prompt, random.Random(f"{seed}:pairs"))
    rows = []
    for prompt, first, second in candidate_pairs:
        profile = rng.choice(crowd)
        rewards = [gold_reward(prompt.text, first.text), gold_reward(prompt.text, second.text)]
        order = choose_ranking(profile, rewards, rng)
        if noise_free:
            order = [0, 1] if rewards[0] >= rewards[1] else [1, 0]
        chosen, rejected = (first, second) if order[0] == 0 else (second, first)
        rows.append({
            "prompt": [{"role": "user", "content": prompt.text}],
            "chosen": [{"role": "assistant", "content": chosen.text}],
            "rejected": [{"role": "assistant", "content": rejected.text}],
            "prompt_text": prompt.text, "first": first.text, "second": second.text,
            "first_preferred": int(order[0] == 0), "annotator": profile.username,
        })
    return rows


def _repaired(tasks, pairs_per_prompt: int, rng: random.Random) -> list[tuple]:
    """(prompt, first, second) for `pairs_per_prompt` distinct pairs of distinct texts per prompt,
    drawn from all pairings of that prompt's candidate responses, each in a random display order."""
    by_prompt: dict[str, tuple] = {}
    for task in tasks:
        prompt, responses = by_prompt.setdefault(task.prompt.text, (task.prompt, {}))
        for response in task.responses:
            responses.setdefault(response.text, response)
    pairs = []
    for prompt, responses in by_prompt.values():
        distinct = list(responses.values())
        pairings = [(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1:]]
        if len(pairings) < pairs_per_prompt:
            raise ValueError(f"{pairs_per_prompt} pairs per prompt asked, but a prompt's {len(distinct)} distinct "
                             f"candidates make only {len(pairings)}; raise tasks_per_prompt")
        for a, b in rng.sample(pairings, pairs_per_prompt):
            pairs.append((prompt, a, b) if rng.random() < 0.5 else (prompt, b, a))
    return pairs


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


class PairFeatures:
    """Reward-model features of both sides of some pairs, from a text -> embedding table."""

    def __init__(self, prompts: list[str], firsts: list[str], seconds: list[str], table: dict[str, np.ndarray]):
        self.groups = prompts  # pairs of the same prompt form a group (for the diverse strategy)
        prompt = np.stack([table[text] for text in prompts])
        self.first = reward_features(prompt, np.stack([table[text] for text in firsts]))
        self.second = reward_features(prompt, np.stack([table[text] for text in seconds]))


def embedding_table(texts: set[str], *, encoder: str, directory: Path, progress: bool = True,
                    layer: int = -1) -> dict[str, np.ndarray]:
    """Embeds each distinct text once with the frozen encoder, in a `python -m training embed` child,
    mean-pooling the hidden states of `layer` (-1: the last).

    Embeddings already in `directory` (from an earlier run with the same encoder and layer) are
    reused, so a rerun with more seeds embeds only the new texts. Another layer's embeddings are
    kept in a subdirectory, so that switching layers back and forth embeds nothing twice."""
    if layer != -1:
        directory = directory / f"layer-{layer}"
    directory.mkdir(parents=True, exist_ok=True)
    cache_texts, cache_vectors = directory / "texts.jsonl", directory / "embeddings.npy"
    table: dict[str, np.ndarray] = {}
    encoder_file = directory / "encoder.txt"
    if cache_texts.is_file() and cache_vectors.is_file() and encoder_file.is_file() and encoder_file.read_text() == encoder:
        table = dict(zip((row["text"] for row in read_jsonl(cache_texts)), np.load(cache_vectors)))
    missing = sorted(texts - table.keys())
    if missing:
        data = write_jsonl(directory / "missing.jsonl", [{"text": text} for text in missing])
        output = directory / "missing.npy"
        # The first run embeds tens of thousands of texts (minutes): show how far it is.
        with tqdm(total=len(missing), desc="embedding new texts", unit="text", disable=not progress,
                  dynamic_ncols=True) as bar:
            run_training_command("embed", ["--model", encoder, "--data", str(data), "--output", str(output),
                                           "--layer", str(layer)],
                                 on_progress=lambda event: bar.update(event.step - bar.n))
        table.update(zip(missing, np.load(output)))
        ordered = sorted(table)
        write_jsonl(cache_texts, [{"text": text} for text in ordered])
        np.save(cache_vectors, np.stack([table[text] for text in ordered]))
        encoder_file.write_text(encoder)
    return {text: table[text] for text in texts}


def run_strategy(strategy: str, pool: PairFeatures, labels: np.ndarray, evaluation: PairFeatures, *,
                 schedule: list[int], seed: int, l2: float = L2, annotators: np.ndarray | None = None,
                 rank_once_after: int | None = None) -> list[float]:
    """Gold accuracy after each label count in `schedule`; the first count is a random warm start
    (the same for every strategy with the same seed), later batches follow `strategy`.

    With `rank_once_after` = W (a count in `schedule`) the first W labels come in random order (as
    random's), then the head fitted on them ranks the rest of the budget at once and later batches
    follow that ranking without a refit: how the platform orders a new iteration's tasks, scored
    once by the reward model of the iteration before. (Accuracy is still measured after each batch.)"""
    rng = random.Random(seed)
    order = list(range(len(labels)))
    rng.shuffle(order)
    selected = order[: schedule[0]]
    acquisition_rng = random.Random(f"{seed}:{strategy}")
    bootstrap = np.random.default_rng(seed)
    differences = pool.first - pool.second  # what the information score needs, once per run
    if rank_once_after is not None and rank_once_after not in schedule[:-1]:
        raise ValueError(f"rank_once_after must be a label count of the schedule before its last, not {rank_once_after}")
    accuracies, head, label_weight, ranking = [], None, None, []
    for index, n in enumerate(schedule):
        previous = None if head is None else head.weights  # a warm start: the optimum is the same, found sooner
        if annotators is None:
            head = fit_bradley_terry_head(pool.first[selected], pool.second[selected], labels[selected], l2=l2,
                                          initial_weights=previous)
        else:
            head, _, label_weight = fit_with_annotator_reliability(
                pool.first[selected], pool.second[selected], labels[selected], annotators[selected], l2=l2,
                initial_weights=previous)
        accuracies.append(pairwise_accuracy(head, evaluation.first, evaluation.second))
        if index + 1 == len(schedule):
            break
        step = schedule[index + 1] - n
        if ranking:  # ranked once already: the next pairs in that order
            selected, ranking = selected + ranking[:step], ranking[step:]
            continue
        chosen = set(selected)
        remaining = [i for i in order if i not in chosen]
        if rank_once_after is not None and n < rank_once_after:
            selected = selected + remaining[:step]
            continue
        # how many to pick: the next batch, or (ranked once) the rest of the budget in one ranking
        k = step if rank_once_after is None else schedule[-1] - n
        if strategy == "random":
            batch = remaining[:k]
        elif strategy == "uncertainty":
            batch = least_certain(head.preference_probability(pool.first, pool.second), remaining, k)
        elif strategy == "mixed":
            batch = least_certain(head.preference_probability(pool.first, pool.second), remaining, k - k // 2)
            taken = set(batch)
            rest = [i for i in remaining if i not in taken]
            at_random = acquisition_rng.sample(rest, min(k // 2, len(rest)))
            if rank_once_after is None:
                batch += at_random
            else:  # one ranking for the rest of the budget: alternate, so that every batch taken from it is mixed
                batch = [i for pair in itertools.zip_longest(batch, at_random) for i in pair if i is not None]
        elif strategy == "diverse":
            batch = least_certain_per_group(head.preference_probability(pool.first, pool.second), remaining, k,
                                            pool.groups)
        elif strategy in ("information", "variance"):
            batch = most_informative(head, differences, selected, remaining, k, l2=l2,
                                     weigh_by_confidence=strategy == "information", labelled_weight=label_weight)
        elif strategy == "prediction":
            targets = acquisition_rng.sample(remaining, min(PREDICTION_TARGETS, len(remaining)))
            batch = most_predictive(head, differences, selected, remaining, k, targets=targets, l2=l2,
                                    labelled_weight=label_weight)
        elif strategy == "sign":
            batch = least_sure_of_sign(head, differences, selected, remaining, k, l2=l2, labelled_weight=label_weight)
        elif strategy == "ensemble":
            members = []
            for _ in range(ENSEMBLE_MEMBERS):
                counts = np.bincount(bootstrap.integers(0, len(selected), len(selected)), minlength=len(selected))
                member = fit_bradley_terry_head(pool.first[selected], pool.second[selected], labels[selected],
                                                l2=l2, sample_weight=counts)
                members.append(member.preference_probability(pool.first, pool.second))
            batch = most_disputed(np.stack(members), remaining, k)
        else:
            raise ValueError(f"unknown strategy {strategy!r}")
        batch, ranking = batch[:step], batch[step:]  # the ranking is empty unless ranked once
        selected = selected + batch
    return accuracies


def _mean_curve(schedule: list[int], runs: list[list[float]]) -> list[dict]:
    curve = []
    for index, n in enumerate(schedule):
        values = [run[index] for run in runs]
        se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
        curve.append({"labels": n, "accuracy": round(statistics.fmean(values), 4), "standard_error": round(se, 4)})
    return curve


def _spread(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "standard_error": None, "median": None, "n": 0}
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return {"mean": round(statistics.fmean(values), 3), "standard_error": None if se is None else round(se, 3),
            "median": round(statistics.median(values), 3), "n": len(values)}


def _reduction(strategy_needed: float | None, random_needed: float | None, *,
               ranked_from: int | None = None) -> float | None:
    """1 - labels the strategy needs / labels random needs (None if either never reaches the target),
    counting only the labels after `ranked_from` (the ranked phase of a rank-once run)."""
    start = ranked_from or 0
    if strategy_needed is None or random_needed is None or random_needed <= start:
        return None
    return 1.0 - (strategy_needed - start) / (random_needed - start)


def target_for(schedule: list[int], random_accuracies, fraction: float, ranked_from: int | None = None) -> float:
    """The target accuracy: `fraction` x random's accuracy with the whole budget; in a rank-once run,
    random's accuracy when the ranking is made plus `fraction` of what random gains after it."""
    final = float(random_accuracies[-1])
    if ranked_from is None:
        return fraction * final
    start = float(random_accuracies[schedule.index(ranked_from)])
    return start + fraction * (final - start)


def _curve(schedule: list[int], accuracies) -> list[dict]:
    return [{"labels": n, "accuracy": float(a)} for n, a in zip(schedule, accuracies)]


def bootstrap_reduction(schedule: list[int], random_runs: list[list[float]], strategy_runs: list[list[float]], *,
                        target_fraction: float = TARGET_FRACTION, resamples: int = 1000, seed: int = 0,
                        ranked_from: int | None = None) -> dict:
    """Spread of the mean-curve label reduction over seeds: resample seeds with replacement, recompute
    both mean curves, the target and the reduction. Returns the 5th/50th/95th percentiles and the
    share of resamples in which the strategy needs fewer labels than random."""
    rng = np.random.default_rng(seed)
    random_array, strategy_array = np.asarray(random_runs), np.asarray(strategy_runs)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(random_array), len(random_array))
        random_mean, strategy_mean = random_array[pick].mean(axis=0), strategy_array[pick].mean(axis=0)
        target = target_for(schedule, random_mean, target_fraction, ranked_from)
        value = _reduction(labels_needed(_curve(schedule, strategy_mean), target),
                           labels_needed(_curve(schedule, random_mean), target), ranked_from=ranked_from)
        values.append(-1.0 if value is None else value)  # never reaching the target counts as a loss
    low, median, high = np.percentile(values, [5, 50, 95])
    return {"p05": round(float(low), 3), "median": round(float(median), 3), "p95": round(float(high), 3),
            "share_positive": round(float(np.mean(np.asarray(values) > 0)), 3), "resamples": resamples}


def summarise(schedule: list[int], runs: dict[str, list[list[float]]], *, target_accuracy: float | None = None,
              bootstrap_resamples: int = 1000, ranked_from: int | None = None) -> dict:
    """Mean curves, labels needed to reach the target and the label reduction of each strategy
    against random: on the mean curves over seeds (the headline), with a bootstrap interval over
    seeds, per seed (mean, SE, median over the seeds where both reached the target), and on the mean
    curves for other target fractions (how sensitive the number is to the target).

    `ranked_from` (a rank-once run, see `run_strategy`): targets and reductions count only what
    happens after the ranking, since every strategy labels at random before it."""
    curves = {name: _mean_curve(schedule, strategy_runs) for name, strategy_runs in runs.items()}
    random_accuracies = [point["accuracy"] for point in curves["random"]]
    if target_accuracy is None:
        target_accuracy = round(target_for(schedule, random_accuracies, TARGET_FRACTION, ranked_from), 4)
    needed = {name: labels_needed(curve, target_accuracy) for name, curve in curves.items()}
    per_seed_needed = {
        name: [labels_needed(_curve(schedule, run), target_accuracy) for run in strategy_runs]
        for name, strategy_runs in runs.items()
    }
    reductions = {}
    for name in runs:
        if name == "random":
            continue
        per_seed = [_reduction(mine, theirs, ranked_from=ranked_from)
                    for mine, theirs in zip(per_seed_needed[name], per_seed_needed["random"])]
        mean_curves = _reduction(needed[name], needed["random"], ranked_from=ranked_from)
        by_target = {}
        for fraction in (0.90, 0.95, 0.98) if ranked_from is None else (0.5, 0.75, 0.95, 1.0):
            target = target_for(schedule, random_accuracies, fraction, ranked_from)
            value = _reduction(labels_needed(curves[name], target), labels_needed(curves["random"], target),
                               ranked_from=ranked_from)
            by_target[str(fraction)] = None if value is None else round(value, 3)
        reductions[name] = {
            "mean_curves": None if mean_curves is None else round(mean_curves, 3),
            "bootstrap_over_seeds": bootstrap_reduction(schedule, runs["random"], runs[name],
                                                        resamples=bootstrap_resamples, ranked_from=ranked_from)
            if len(runs[name]) > 1 and bootstrap_resamples else None,
            "per_seed": _spread([value for value in per_seed if value is not None]),
            "seeds_not_reaching_target": sum(value is None for value in per_seed_needed[name]),
            "by_target_fraction": by_target,
            "accuracy_gain_at_budget": round(curves[name][-1]["accuracy"] - curves["random"][-1]["accuracy"], 4),
        }
    return {
        "target_accuracy": target_accuracy,
        "target_rule": f"{TARGET_FRACTION} x the mean accuracy random selection reaches with the whole budget"
        if ranked_from is None else f"random's mean accuracy at {ranked_from} labels + {TARGET_FRACTION} x what it gains "
                                    "from there to the whole budget; reductions count the labels after the ranking",
        "curves": curves,
        "labels_needed": {name: None if value is None else round(value, 1) for name, value in needed.items()},
        "labels_needed_per_seed": {name: [None if v is None else round(v, 1) for v in values]
                                   for name, values in per_seed_needed.items()},
        "label_reduction": reductions.get(HEADLINE_STRATEGY, {}).get("mean_curves"),
        "label_reductions": reductions,
        "final_accuracy": {name: curve[-1]["accuracy"] for name, curve in curves.items()},
    }


def active_selection_experiment(*, directory: Path, seeds=range(8), budget: int = 400, batch_size: int = 16,
                                annotators: int = 8, tasks_per_prompt: int = 32, strategies=STRATEGIES,
                                encoder: str | None = None, target_accuracy: float | None = None,
                                eval_pairs: list[dict] | None = None, noise_free: bool = False,
                                progress: bool = True, learn_reliability: bool = False,
                                pairs_per_prompt: int | None = None, jobs: int = 1,
                                rank_once_after: int | None = None, layer: int = -1) -> dict:
    """Runs every strategy for every seed; returns the report's `active_selection` section.

    Per seed the pool (candidate responses), the crowd's labels and the random warm start differ.
    `pairs_per_prompt`: see `labelled_pool`. `jobs` > 1 runs seeds in that many processes (the
    result is the same). `rank_once_after`: see `run_strategy`. `layer`: the encoder's hidden states
    the features pool (-1: the last; see `training.embedding`).
    """
    seeds = list(seeds)
    directory = Path(directory)
    eval_pairs = eval_pairs if eval_pairs is not None else gold_labelled_pairs(per_prompt=EVAL_PAIRS_PER_PROMPT)
    pools = {seed: labelled_pool(seed=seed, tasks_per_prompt=tasks_per_prompt, annotators=annotators,
                                 noise_free=noise_free, pairs_per_prompt=pairs_per_prompt) for seed in seeds}
    texts = set()
    for rows in pools.values():
        texts.update(text for row in rows for text in (row["prompt_text"], row["first"], row["second"]))
    for row in eval_pairs:
        texts.update([row["prompt"][-1]["content"], row["chosen"][-1]["content"], row["rejected"][-1]["content"]])
    table = embedding_table(texts, encoder=encoder or pretrained_encoder(), directory=directory, progress=progress,
                            layer=layer)
    evaluation = PairFeatures([row["prompt"][-1]["content"] for row in eval_pairs],
                              [row["chosen"][-1]["content"] for row in eval_pairs],
                              [row["rejected"][-1]["content"] for row in eval_pairs], table)
    pool_size = min(len(rows) for rows in pools.values())
    schedule = list(range(batch_size, min(budget, pool_size) + 1, batch_size))
    runs: dict[str, list[list[float]]] = {name: [] for name in strategies}
    seed_jobs = []
    for seed in seeds:
        rows = pools[seed]
        pool = PairFeatures([r["prompt_text"] for r in rows], [r["first"] for r in rows], [r["second"] for r in rows], table)
        labels = np.array([r["first_preferred"] for r in rows], dtype=np.float64)
        judged_by = np.array([r["annotator"] for r in rows]) if learn_reliability else None
        seed_jobs.append((seed, pool, labels, judged_by))
    bar = tqdm(total=len(seeds) * len(strategies), desc="active selection", unit="run", disable=not progress,
               dynamic_ncols=True)
    with _executor(jobs) as executor:
        futures = [[executor.submit(run_strategy, name, pool, labels, evaluation, schedule=schedule, seed=seed,
                                    annotators=judged_by, rank_once_after=rank_once_after) for name in strategies]
                   for seed, pool, labels, judged_by in seed_jobs]
        for seed_futures in futures:  # in seed order, so the report is the same for any number of jobs
            for name, future in zip(strategies, seed_futures):
                runs[name].append(future.result())
                bar.update(1)
    bar.close()
    gaps = [(gold_reward(r["prompt_text"], r["first"]) - gold_reward(r["prompt_text"], r["second"]), r["first_preferred"])
            for rows in pools.values() for r in rows]
    label_noise = statistics.fmean(float((gap > 0) != bool(first)) for gap, first in gaps if gap != 0)
    return {
        **summarise(schedule, runs, target_accuracy=target_accuracy, ranked_from=rank_once_after),
        "ranked": "after every batch" if rank_once_after is None else
        f"once, by the head fitted on the first {rank_once_after} labels (taken in random order), as the platform "
        "scores a new iteration's tasks once",
        "headline_strategy": HEADLINE_STRATEGY,
        "pool_size": pool_size, "pairs_per_prompt": pairs_per_prompt or tasks_per_prompt,
        "pool": "distinct pairs drawn from all pairings of each prompt's candidate responses" if pairs_per_prompt
        else "the demo tasks' disjoint pairs",
        "n_eval_pairs": len(eval_pairs), "batch_size": batch_size, "budget": schedule[-1],
        "seeds": seeds, "seed": seeds[0], "annotators": annotators, "labels": "gold (noise-free)" if noise_free
        else "one judgement per pair by the simulated crowd (default_profiles, choose_ranking)",
        "labels_disagreeing_with_gold": round(label_noise, 3),
        "learner": "learns each annotator's reliability with the head (EM) and weighs their labels by it"
        if learn_reliability else "every label weighs the same",
        "reward_model": f"Bradley-Terry linear head (l2 {L2}) on frozen MiniLM mean-pooled embeddings "
                        f"({'of the last layer' if layer == -1 else f'after layer {layer}'}): "
                        "[e(response), cosine(e(prompt), e(response))]",
        "embedding_layer": layer,
        "runs": {name: [[round(accuracy, 4) for accuracy in run] for run in strategy_runs]
                 for name, strategy_runs in runs.items()},  # per seed, for re-analysis
    }


def _executor(jobs: int):
    # One thread runs the runs one after another in this process (no pickling, no child processes).
    return ThreadPoolExecutor(max_workers=1) if jobs <= 1 else ProcessPoolExecutor(max_workers=jobs)


def parse_arguments(argv=None) -> argparse.Namespace:
    """The command line, with `strategies` as a tuple (exits with a message on a bad one)."""
    parser = argparse.ArgumentParser(prog="python -m simulation.experiments.active_selection",
                                     description="Labels needed: active pair selection vs random (writes "
                                                 "report.json and the accuracy-vs-labels plot).")
    parser.add_argument("--seeds", type=int, default=8, help="number of seeds (0..N-1)")
    parser.add_argument("--budget", type=int, default=400, help="largest label count")
    parser.add_argument("--batch-size", type=int, default=16, help="labels acquired per round")
    parser.add_argument("--annotators", type=int, default=8, help="simulated crowd size (`manage.py loop` default: 8)")
    parser.add_argument("--tasks-per-prompt", type=int, default=32,
                        help="candidate pairs per train prompt (pool size = 32 prompts x this)")
    parser.add_argument("--pairs-per-prompt", type=int, default=None,
                        help="pair each prompt's 2 x tasks-per-prompt candidates again into this many distinct pairs "
                             "(a larger pool from the same responses; default: the tasks' own pairs)")
    parser.add_argument("--jobs", type=int, default=1, help="processes running seeds in parallel (same result)")
    parser.add_argument("--loop-scale", action="store_true",
                        help="the headline setting (1,024 labels in batches of 32 from 4,096 pairs, "
                             f"{','.join(LOOP_SCALE['strategies'])}); flags given as well override it")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help=f"comma-separated, random first (default: {','.join(STRATEGIES)})")
    parser.add_argument("--rank-once-after", type=int, default=None, metavar="W",
                        help="label W pairs in random order, then let the head fitted on them rank the rest of the "
                             "budget once, without refits (how the platform orders a new iteration's tasks)")
    parser.add_argument("--layer", type=int, default=-1,
                        help="pool the encoder's hidden states after this layer (-1: the last; MiniLM has 1..6)")
    parser.add_argument("--learn-reliability", action="store_true",
                        help="the reward model learns how far to trust each annotator (EM), as the platform's consensus does")
    parser.add_argument("--noise-free", action="store_true",
                        help="ablation: label by the gold reward instead of the noisy crowd")
    parser.add_argument("--output", type=Path, default=Path("var/active-selection"),
                        help="directory for report.json and the plot")
    parser.add_argument("--cache", type=Path, default=Path("var/active-selection-cache"),
                        help="embeddings cache (tens of MB; reused by later runs, keep it out of the repo)")
    arguments = parser.parse_args(argv)
    if arguments.loop_scale:  # its values become the defaults, so flags given as well still win
        parser.set_defaults(**{**LOOP_SCALE, "strategies": ",".join(LOOP_SCALE["strategies"])})
        arguments = parser.parse_args(argv)
    once = arguments.rank_once_after
    if once is not None and (once % arguments.batch_size or not 0 < once < arguments.budget - arguments.batch_size + 1):
        parser.error(f"--rank-once-after must be a multiple of --batch-size ({arguments.batch_size}) below --budget "
                     f"({arguments.budget}), not {once}")
    arguments.strategies = tuple(arguments.strategies.split(","))
    unknown = sorted(set(arguments.strategies) - set(STRATEGIES))
    if unknown or "random" not in arguments.strategies:
        parser.error(f"--strategies: unknown {', '.join(unknown)}" if unknown else
                     "--strategies must include random (every reduction is measured against it)")
    return arguments


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    from .report import PLOT_FILES, plot_reward_model_accuracy  # matplotlib only when writing the plot

    arguments.output.mkdir(parents=True, exist_ok=True)
    result = active_selection_experiment(directory=arguments.cache, seeds=range(arguments.seeds),
                                         budget=arguments.budget, batch_size=arguments.batch_size,
                                         annotators=arguments.annotators, noise_free=arguments.noise_free,
                                         tasks_per_prompt=arguments.tasks_per_prompt,
                                         strategies=arguments.strategies, pairs_per_prompt=arguments.pairs_per_prompt,
                                         learn_reliability=arguments.learn_reliability, jobs=arguments.jobs,
                                         rank_once_after=arguments.rank_once_after, layer=arguments.layer)
    (arguments.output / "report.json").write_text(json.dumps({"active_selection": result}, indent=2))
    plot_reward_model_accuracy({"active_selection": result}, arguments.output / PLOT_FILES["rm_accuracy_vs_labels"])
    print(f"target accuracy {result['target_accuracy']} ({result['target_rule']}); labels needed: {result['labels_needed']}")
    for name, reduction in result["label_reductions"].items():
        spread = reduction["bootstrap_over_seeds"] or {}
        print(f"  {name}: {reduction['mean_curves']} fewer labels than random (bootstrap over seeds: "
              f"{spread.get('p05')} .. {spread.get('p95')}, positive in {spread.get('share_positive')}); "
              f"accuracy at {result['budget']} labels {reduction['accuracy_gain_at_budget']:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

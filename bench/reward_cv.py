"""The reward model's defaults chosen by k-fold cross-validation on 1,500 real HH harmless pairs.

    .venv/bin/python bench/reward_cv.py [--folds 5] [--seed 0] [--config NAME ...] [--fold-limit N]
                                        [--threads 1] [--jobs 2] [--workdir /tmp/reward-cv] [--data FILE]

The pairs (../shared/data/hh-harmless-1500.jsonl.gz, read in place) are shuffled with `--seed`
and cut into `--folds` equal folds; for each configuration and fold, `python -m training reward
... --train OTHER_FOLDS --eval FOLD` runs in its own process under `nice -n 5` (the house's way
of launching training: training.client.run_training_command). After each fold the trained model
scores the held-out pairs here, and the per-pair scores are kept (`predictions/`), so
ensembles are scored from members already trained, on the same folds, at no training cost.

Per configuration: held-out accuracy mean ± SE over folds, the difference from the length
heuristic ("the shorter final answer wins", ties half) on the same folds in points (mean ± SE
of the per-fold difference), and the median wall seconds per fold (model loading and evaluation
included).
Finished folds are kept in `<workdir>/results.jsonl` and skipped on a rerun, so the run can be
resumed or extended (`--fold-limit` runs only the first folds). Prints a markdown table and one JSON line per configuration.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import shutil
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from training.client import child_environment, command_line, run_training_command  # noqa: E402

DEFAULT_DATA = REPOSITORY.parent / "shared" / "data" / "hh-harmless-1500.jsonl.gz"
MINILM = "all-minilm-l6-v2"
SMOLLM2 = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Candidate:
    """A reward command configuration: the options after --base-model, and what they mean."""

    base_model: str
    options: tuple[str, ...] = ()
    what: str = ""


# The reward command's defaults before this study, spelled out so that every row stays what it
# says whatever the defaults become: all layers, 1 epoch, lr 3e-5, max_length 256 (batch 16).
BEFORE = ("--trainable-layers", "0", "--epochs", "1", "--lr", "3e-5", "--max-length", "256")


def before(*changes: str) -> tuple[str, ...]:
    """The options before this study with `changes` (flag, value, ...) applied."""
    options = dict(zip(BEFORE[::2], BEFORE[1::2]))
    options.update(zip(changes[::2], changes[1::2]))
    return tuple(item for pair in options.items() for item in pair)


CANDIDATES: dict[str, Candidate] = {
    "minilm-defaults": Candidate(MINILM, before(), what="the reward command's defaults before this study "
                                                        "(all layers, 1 epoch, lr 3e-5, max_length 256, batch 16)"),
    "minilm-lr-1e-4": Candidate(MINILM, before("--lr", "1e-4"), what="lr 1e-4"),
    "minilm-epochs-2": Candidate(MINILM, before("--epochs", "2"), what="2 epochs"),
    "minilm-max-length-384": Candidate(MINILM, before("--max-length", "384"), what="the last 384 tokens"),
    "minilm-max-length-128": Candidate(MINILM, before("--max-length", "128"), what="the last 128 tokens"),
    "minilm-top2": Candidate(MINILM, before("--trainable-layers", "2", "--lr", "2e-4", "--epochs", "2"),
                             what="top 2 of 6 blocks trained, lr 2e-4, 2 epochs"),
    "minilm-top2-epochs-1": Candidate(MINILM, before("--trainable-layers", "2", "--lr", "2e-4"),
                                      what="top 2 of 6 blocks trained, lr 2e-4, 1 epoch"),
    "minilm-top2-max-length-384": Candidate(MINILM, before("--trainable-layers", "2", "--lr", "2e-4", "--epochs", "2",
                                                           "--max-length", "384"),
                                            what="top 2 of 6 blocks trained, lr 2e-4, 2 epochs, the last 384 tokens"),
    "smollm2-top2": Candidate(SMOLLM2, before("--trainable-layers", "2", "--lr", "1e-4", "--max-length", "128"),
                              what="SmolLM2-135M-Instruct, top 2 of 30 blocks trained, lr 1e-4, 1 epoch, max_length 128"),
    "smollm2-top2-epochs-2": Candidate(
        SMOLLM2, before("--trainable-layers", "2", "--lr", "2e-4", "--epochs", "2", "--max-length", "128"),
        what="SmolLM2-135M-Instruct, top 2 of 30 blocks trained, lr 2e-4, 2 epochs, max_length 128"),
    "smollm2-lora": Candidate(SMOLLM2, before("--trainable-layers", "0", "--lora-r", "8", "--lr", "3e-4",
                                              "--max-length", "128"),
                              what="SmolLM2-135M-Instruct, LoRA r=8 on every linear layer, lr 3e-4, 1 epoch, max_length 128"),
}

# name -> members: the per-pair scores of the members are averaged (what `--ensemble` does with
# members that differ in seed; here they differ in their settings too and cost no extra training).
ENSEMBLES: dict[str, tuple[str, ...]] = {
    "ensemble-defaults+top2": ("minilm-defaults", "minilm-top2"),
}


# ------------------------------------------------------------------ data
def read_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def fold_files(rows: list[dict], folds: int, seed: int, directory: Path) -> list[tuple[Path, Path]]:
    """Shuffle once with `seed`, cut into `folds` contiguous folds; write each fold's train and eval
    JSONL (the raw HH rows: the reward command splits the dialogues) under `directory`."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    bounds = [round(i * len(rows) / folds) for i in range(folds + 1)]
    files = []
    for fold in range(folds):
        held_out = set(order[bounds[fold]:bounds[fold + 1]])
        fold_dir = directory / f"fold-{fold}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        train, evaluation = fold_dir / "train.jsonl", fold_dir / "eval.jsonl"
        for path, part in ((train, [i for i in order if i not in held_out]), (evaluation, sorted(held_out))):
            text = "".join(json.dumps(rows[i]) + "\n" for i in part)
            # rewritten only when different: another run of this script may be reading it
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
        files.append((train, evaluation))
    return files


def shorter_answer_wins(pairs) -> list[float]:
    """Per pair: 1 if the chosen final answer is the shorter, 0.5 on a tie, else 0."""
    return [1.0 if len(p.chosen) < len(p.rejected) else 0.5 if len(p.chosen) == len(p.rejected) else 0.0 for p in pairs]


# ------------------------------------------------------------------ statistics
def mean_and_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample std / sqrt(n)); SE is nan for one value."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


# ------------------------------------------------------------------ one fold
def train_fold(name: str, candidate: Candidate, fold: int, files, arguments, workdir: Path, lock) -> dict:
    """Trains on the other folds, evaluates on `fold`, scores the held-out pairs; returns the record."""
    train, evaluation = files
    output = workdir / "models" / name / f"fold-{fold}"
    shutil.rmtree(output, ignore_errors=True)
    options = ["--base-model", candidate.base_model, *candidate.options, "--train", str(train), "--eval", str(evaluation),
               "--output", str(output), "--seed", str(arguments.seed)]
    env = child_environment()
    if arguments.threads:
        env.update(OMP_NUM_THREADS=str(arguments.threads), MKL_NUM_THREADS=str(arguments.threads))
    argv = ["nice", "-n", str(arguments.nice), *command_line("reward", options)]
    print(f"[{time.strftime('%H:%M:%S')}] {name} fold {fold}: {' '.join(argv[3:])}", flush=True)

    def report(event) -> None:
        # the last event is the trainer's summary: the mean loss of the run, not one step's
        loss = event.metrics.get("loss", event.metrics.get("train_loss", float("nan")))
        print(f"    {name} fold {fold}: step {event.step}/{event.total} loss {loss:.4f}", flush=True)

    result = run_training_command("reward", argv=argv, env=env, cwd=REPOSITORY, on_progress=report)
    with lock:  # one scoring at a time in this process (torch's thread count is global)
        scores = score_held_out(output, evaluation, arguments.threads)
    predictions = workdir / "predictions" / name / f"fold-{fold}.json"
    predictions.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_text(json.dumps(scores))
    if not arguments.keep_models:
        shutil.rmtree(output, ignore_errors=True)
    accuracy = sum(c > r for c, r in zip(scores["chosen"], scores["rejected"])) / len(scores["chosen"])
    metrics = result.metrics
    # the scores kept for ensembles must be the ones the command evaluated
    if abs(accuracy - metrics["eval_accuracy"]) > 0.002:
        raise RuntimeError(f"{name} fold {fold}: rescored accuracy {accuracy:.4f} != eval_accuracy {metrics['eval_accuracy']}")
    return {"config": name, "fold": fold, "folds": arguments.folds, "seed": arguments.seed,
            "base_model": candidate.base_model, "options": list(candidate.options),
            "eval_accuracy": metrics["eval_accuracy"], "eval_loss": metrics["eval_loss"], "eval_ece": metrics["eval_ece"],
            "eval_n": metrics["eval_n"], "train_seconds": metrics["train_seconds"],
            "wall_seconds": round(result.elapsed_seconds, 1), "truncated_texts": metrics["truncated_texts"],
            "trainable_parameters": metrics["trainable_parameters"], "precision": metrics["precision"],
            "recorded": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": os.getloadavg()[0]}


def score_held_out(model_dir: Path, evaluation: Path, threads: int) -> dict:
    """Per-pair rewards of the held-out chosen and rejected answers under the saved model."""
    import torch

    from training.data import read_pairs
    from training.reward import RewardScorer

    if threads:
        torch.set_num_threads(threads)
    pairs = read_pairs(evaluation)
    scorer = RewardScorer.load(str(model_dir), torch.device("cpu"))
    prompts = [p.prompt for p in pairs]
    chosen = scorer.score(prompts, [p.chosen for p in pairs])[0].tolist()
    rejected = scorer.score(prompts, [p.rejected for p in pairs])[0].tolist()
    return {"chosen": chosen, "rejected": rejected}


# ------------------------------------------------------------------ report
def summary_rows(records: list[dict], heuristic: dict[int, list[float]], workdir: Path, names) -> list[dict]:
    by_config: dict[str, dict[int, dict]] = {}
    for record in records:
        by_config.setdefault(record["config"], {})[record["fold"]] = record
    rows = []
    for name in names:
        if name in ENSEMBLES:
            members = ENSEMBLES[name]
            folds = sorted(set.intersection(*(set(by_config.get(m, {})) for m in members))) if members else []
            accuracies, seconds = [], []
            for fold in folds:
                member_scores = [json.loads((workdir / "predictions" / m / f"fold-{fold}.json").read_text()) for m in members]
                n = len(member_scores[0]["chosen"])
                wins = sum(sum(s["chosen"][i] - s["rejected"][i] for s in member_scores) > 0 for i in range(n))
                accuracies.append(wins / n)
                seconds.append(sum(by_config[m][fold]["wall_seconds"] for m in members))
            what = "mean score of " + " + ".join(members)
        else:
            folds = sorted(by_config.get(name, {}))
            accuracies = [by_config[name][f]["eval_accuracy"] for f in folds]
            seconds = [by_config[name][f]["wall_seconds"] for f in folds]
            what = CANDIDATES[name].what
        if not folds:
            continue
        accuracy, accuracy_se = mean_and_se(accuracies)
        gain, gain_se = mean_and_se([100 * (a - sum(heuristic[f]) / len(heuristic[f])) for a, f in zip(accuracies, folds)])
        rows.append({"config": name, "what": what, "k": len(folds), "folds": folds, "accuracy": round(accuracy, 4),
                     "accuracy_se": round(accuracy_se, 4), "vs_length_points": round(gain, 1),
                     "vs_length_points_se": round(gain_se, 1), "per_fold": accuracies,
                     # the median: one fold run while the machine was busy does not set the figure
                     "wall_seconds_per_fold": round(statistics.median(seconds))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="HH pairs (gzipped JSONL)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="shuffles the folds; also each run's --seed")
    parser.add_argument("--config", action="append", choices=sorted(CANDIDATES) + sorted(ENSEMBLES),
                        help="configurations to run or report (repeatable; default: all)")
    parser.add_argument("--fold-limit", type=int, default=0, help="run at most this many folds per configuration (0: all)")
    parser.add_argument("--fold", type=int, action="append", help="run only this fold (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads per run (0: torch's default)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at the same time")
    parser.add_argument("--nice", type=int, default=5, help="niceness of the training processes")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/reward-cv"))
    parser.add_argument("--keep-models", action="store_true", help="keep each fold's model directory")
    parser.add_argument("--report-only", action="store_true", help="train nothing; report what results.jsonl holds")
    arguments = parser.parse_args()

    if not arguments.data.is_file():
        parser.error(f"no such data file: {arguments.data}")
    from training.data import read_pairs

    rows = read_rows(arguments.data)
    fold_dir = arguments.workdir / f"folds-k{arguments.folds}-seed{arguments.seed}"
    files = fold_files(rows, arguments.folds, arguments.seed, fold_dir)
    heuristic = {fold: shorter_answer_wins(read_pairs(evaluation)) for fold, (_, evaluation) in enumerate(files)}
    results = arguments.workdir / "results.jsonl"
    records = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
    records = [r for r in records if r["folds"] == arguments.folds and r["seed"] == arguments.seed]
    names = arguments.config or [*CANDIDATES, *ENSEMBLES]

    if not arguments.report_only:
        planned = []
        for name in names:
            if name in ENSEMBLES:
                continue
            count = min(arguments.fold_limit or arguments.folds, arguments.folds)
            planned += [(name, fold) for fold in range(count) if (not arguments.fold or fold in arguments.fold)
                        and not any(r["config"] == name and r["fold"] == fold for r in records)]
        lock = threading.Lock()

        def run(task):
            name, fold = task
            record = train_fold(name, CANDIDATES[name], fold, files[fold], arguments, arguments.workdir, lock)
            with lock:
                records.append(record)
                with results.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
            print(f"    {name} fold {fold}: accuracy {record['eval_accuracy']:.4f} (length heuristic "
                  f"{sum(heuristic[fold]) / len(heuristic[fold]):.4f}), {record['wall_seconds']:.0f} s wall, "
                  f"load {record['load_average']:.1f}", flush=True)

        # Several runs at once, each on `--threads` threads: with one thread per run no OpenMP thread
        # spins waiting for a core another job holds.
        with ThreadPoolExecutor(max_workers=arguments.jobs) as pool:
            for future in [pool.submit(run, task) for task in planned]:
                future.result()

    table = summary_rows(records, heuristic, arguments.workdir, names)
    length_accuracy, length_se = mean_and_se([sum(h) / len(h) for h in heuristic.values()])
    print(f"\n{len(rows)} pairs, {arguments.folds} folds (seed {arguments.seed}); "
          f"length heuristic {length_accuracy:.4f} ± {length_se:.4f} over all folds\n")
    print("| configuration | k | accuracy mean ± SE | vs length heuristic (points) | wall s per fold |")
    print("| --- | ---: | --- | --- | ---: |")
    print(f"| length heuristic (shorter final answer wins) | {arguments.folds} | {length_accuracy:.3f} ± {length_se:.3f} | 0 | 0 |")
    for row in table:
        print(f"| {row['config']}: {row['what']} | {row['k']} | {row['accuracy']:.3f} ± {row['accuracy_se']:.3f} | "
              f"{row['vs_length_points']:+.1f} ± {row['vs_length_points_se']:.1f} | {row['wall_seconds_per_fold']} |")
    for row in table:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

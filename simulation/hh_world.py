"""The real-model world: a real chat model answering real human requests, judged against a gold
reward model learned from real human preferences.

Gao et al. (2022)'s set-up on real text. The prompts are the first human turns of Anthropic's HH
dialogues (red-team requests), split once into train and held-out evaluation prompts. The gold
reward is a reward model trained once on the HH pairs whose request is not an evaluation prompt,
then frozen. The platform never sees it: the simulated annotators judge the policy's real samples
by it, and the loop report measures every policy with it.

Models are only touched through the training CLI (`python -m training reward | score`) in child
processes, as the workers do: this module never imports torch.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from training.client import run_training_command
from training.data import split_hh_dialogue
from training.jsonl import read_jsonl, write_jsonl

from .degenerate_text import CORRUPTIONS, degenerate_copy
from .gold_reward import prompt_text_of

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
# A request longer than this is a story, not a prompt: it would cost the policy most of its
# context and the rollouts most of their time on 2 cores.
MAX_PROMPT_CHARS = 300
# The split is a property of the data, not of a run: every seed sees the same held-out prompts,
# so one gold model serves them all.
SPLIT_SEED = 0
# The gold model's training settings: the `reward` command's MiniLM settings, one pass, over the
# human pairs and as many pairs of a human answer against a degenerate copy of it (see
# degenerate_pairs): without them it scored 32 exclamation marks above the base model's answers.
GOLD_SETTINGS = {"base_model": "all-minilm-l6-v2", "epochs": 1, "lr": 3e-5, "batch_size": 16, "max_length": 256,
                 "trainable_layers": 0, "degenerate_pairs": "one per human pair"}
# Responses of human-written HH answers whose raw gold scores set the gold unit (see gold_scale).
SCALE_PAIRS = 200


def default_hh_file() -> Path:
    """The shared HH sample beside the repository (../shared/data), where CI has it too."""
    return Path(settings.BASE_DIR).parent / "shared" / "data" / "hh-harmless-1500.jsonl.gz"


def read_rows(path: Path) -> list[dict]:
    """JSON lines of a plain or gzipped file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def first_human_turn(dialogue: str) -> str:
    """The opening request of an HH dialogue ("\\n\\nHuman: ... \\n\\nAssistant: ...")."""
    start = dialogue.find(HUMAN)
    if start < 0:
        return ""
    text = dialogue[start + len(HUMAN):]
    end = text.find(ASSISTANT)
    return (text if end < 0 else text[:end]).strip()


def request_of(row: dict) -> str:
    """The request of one line of a prompt file: an HH pair (its first human turn) or a prompt line
    ({"prompt": text | messages}, as `python -m training` reads them)."""
    if "chosen" in row:
        return first_human_turn(str(row["chosen"]))
    return prompt_text_of(row.get("prompt")).strip()


@dataclass(frozen=True)
class PromptSplit:
    """Requests for training (the platform's train prompts) and for held-out evaluation."""

    train: list[str]
    evaluation: list[str]


def prompt_split(path: Path, *, train_count: int, eval_count: int) -> PromptSplit:
    """Distinct short requests of the file, shuffled once (SPLIT_SEED): the first `eval_count`
    are held out, the next `train_count` are for training."""
    requests = []
    seen = set()
    for row in read_rows(path):
        request = request_of(row)
        if request and len(request) <= MAX_PROMPT_CHARS and request not in seen:
            seen.add(request)
            requests.append(request)
    random.Random(SPLIT_SEED).shuffle(requests)
    if len(requests) < eval_count + 2:
        raise ValueError(f"{path}: {len(requests)} usable requests, fewer than the {eval_count} held out plus 2")
    return PromptSplit(train=requests[eval_count:eval_count + train_count], evaluation=requests[:eval_count])


def gold_training_pairs(path: Path, evaluation: list[str]) -> tuple[list[dict], list[dict]]:
    """The HH pairs the gold model learns from (every pair whose request is not held out) and the
    held-out ones (its own accuracy check, never trained on)."""
    held_out = set(evaluation)
    train, check = [], []
    for row in read_rows(path):
        if "chosen" not in row or "rejected" not in row:
            continue
        pair = {"chosen": row["chosen"], "rejected": row["rejected"]}
        (check if first_human_turn(row["chosen"]) in held_out else train).append(pair)
    return train, check


def degenerate_pairs(pairs: list[dict], *, seed: int = 0) -> list[dict]:
    """For each HH pair, its chosen dialogue against the same dialogue ending in a degenerate copy
    of the chosen answer (the kinds of simulation/degenerate_text.py in turn)."""
    rng = random.Random(seed)
    kinds = list(CORRUPTIONS)
    made = []
    for index, pair in enumerate(pairs):
        prompt, answer = split_hh_dialogue(pair["chosen"])
        copy = degenerate_copy(answer, kinds[index % len(kinds)], rng)
        made.append({"chosen": pair["chosen"], "rejected": f"{prompt} {copy}".rstrip()})
    return made


def _fingerprint(path: Path, evaluation: list[str]) -> str:
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(json.dumps([evaluation, GOLD_SETTINGS], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def gold_model_ensure(pairs_path: Path, evaluation: list[str], *, log=print, root: Path | None = None) -> Path:
    """The frozen gold reward model for these pairs and held-out prompts: trained once, then reused
    by every run (its directory name is a fingerprint of the data, the split and the settings)."""
    root = Path(root or Path(settings.ARTIFACT_ROOT) / "gold")
    directory = root / f"hh-{_fingerprint(pairs_path, evaluation)}"
    record_file = directory / "gold.json"
    if record_file.exists():
        record = json.loads(record_file.read_text())
        if "scale" not in record:
            record.update(gold_scale(directory, gold_training_pairs(pairs_path, evaluation)[0]))
            record_file.write_text(json.dumps(record, indent=2))
        return directory
    train, check = gold_training_pairs(pairs_path, evaluation)
    degenerate = degenerate_pairs(train)
    log(f"Training the gold reward model on {len(train)} human preference pairs and {len(degenerate)} "
        f"against degenerate text ({len(check)} held out); once, then frozen in {directory}...")
    with tempfile.TemporaryDirectory(dir=root.parent if root.parent.exists() else None) as scratch:
        mixed = train + degenerate
        random.Random(0).shuffle(mixed)
        train_file = write_jsonl(Path(scratch) / "train.jsonl", mixed)
        options = ["--base-model", GOLD_SETTINGS["base_model"], "--train", str(train_file), "--output", str(directory),
                   "--epochs", str(GOLD_SETTINGS["epochs"]), "--lr", str(GOLD_SETTINGS["lr"]),
                   "--batch-size", str(GOLD_SETTINGS["batch_size"]),
                   "--max-length", str(GOLD_SETTINGS["max_length"]),
                   "--trainable-layers", str(GOLD_SETTINGS["trainable_layers"]), "--seed", "0",
                   "--models-dir", str(Path(settings.ARTIFACT_ROOT) / "models")]
        if check:
            options += ["--eval", str(write_jsonl(Path(scratch) / "check.jsonl", check))]
        result = run_training_command("reward", options)
    record_file = directory / "gold.json"
    record = {"pairs_file": str(pairs_path), "n_train_pairs": len(train), "n_degenerate_pairs": len(degenerate),
              "n_held_out_pairs": len(check),
              "settings": GOLD_SETTINGS, "held_out_accuracy": result.metrics.get("eval_accuracy",
                                                                                  result.metrics.get("accuracy")),
              "seconds": round(result.elapsed_seconds, 1), "metrics": result.metrics}
    record.update(gold_scale(directory, train))
    record["degenerate_check"] = degenerate_check(directory, check or train[:SCALE_PAIRS])
    record_file.write_text(json.dumps(record, indent=2))
    return directory


def _raw_scores(directory: Path, rows: list[dict]) -> list[float]:
    """The reward model's raw scores of {prompt, response} rows (one child process)."""
    with tempfile.TemporaryDirectory() as scratch:
        data = write_jsonl(Path(scratch) / "rows.jsonl", rows)
        output = Path(scratch) / "scores.jsonl"
        run_training_command("score", ["--reward-model", str(directory), "--data", str(data), "--output", str(output)])
        return [float(row["reward"]) for row in read_jsonl(output)]


def degenerate_check(directory: Path, pairs: list[dict]) -> dict:
    """How often the model scores a held-out human answer above each kind of degenerate copy of it
    (copies it never trained on: the pairs' requests are held out)."""
    rng = random.Random(1)
    answers = [split_hh_dialogue(pair["chosen"]) for pair in pairs]
    copies = [(kind, {"prompt": prompt, "response": degenerate_copy(answer, kind, rng)})
              for kind in CORRUPTIONS for prompt, answer in answers]
    scores = _raw_scores(directory, [{"prompt": prompt, "response": answer} for prompt, answer in answers]
                         + [row for _, row in copies])
    answer_scores, copy_scores = scores[:len(answers)], scores[len(answers):]
    kinds = [kind for kind, _ in copies]
    wins = [answer_scores[index % len(answers)] > copy_score for index, copy_score in enumerate(copy_scores)]
    by_kind = {kind: round(statistics.mean(won for won, of in zip(wins, kinds) if of == kind), 3)
               for kind in CORRUPTIONS}
    return {"accuracy": round(statistics.mean(wins), 3), "n": len(wins), "by_kind": by_kind}


def gold_scale(directory: Path, pairs: list[dict]) -> dict:
    """The gold unit: one standard deviation of the raw scores of human-written HH answers.

    A reward model's raw scores have no unit (this one's spread about 0.13). The simulated
    annotators prefer by Bradley-Terry on the gold reward at a temperature in gold units, as in the
    synthetic world, so raw scores would make every annotator a coin flip.
    """
    rows = []
    for pair in pairs[:SCALE_PAIRS]:
        for dialogue in (pair["chosen"], pair["rejected"]):
            prompt, answer = split_hh_dialogue(dialogue)
            rows.append({"prompt": prompt, "response": answer})
    scores = _raw_scores(directory, rows)
    mean, spread = statistics.mean(scores), statistics.stdev(scores)
    return {"raw_mean": mean, "raw_std": spread, "scale": 1.0 / spread if spread > 0 else 1.0,
            "n_scale_answers": len(scores)}


def _scorable(prompt):
    """A prompt as the training CLI reads it: text or messages (the API's {text, messages} too)."""
    if isinstance(prompt, dict):
        return prompt.get("messages") or prompt.get("text") or ""
    return prompt


def gold_key(prompt, response: str) -> str:
    return f"{prompt_text_of(prompt).strip()}\x1f{response}"


class GoldModel:
    """Scores (request, response) pairs with the frozen gold reward model.

    The simulated annotators judge one task at a time and must not start a model per judgement:
    `prime` scores everything they are about to see in one batch, and calling the object looks the
    score up (an unprimed pair is an error, not a silent zero).
    """

    def __init__(self, directory: Path, *, scratch: Path):
        self.directory = Path(directory)
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.cache: dict[str, float] = {}
        self.batches = 0
        record_file = self.directory / "gold.json"
        # rewards in gold units (gold_scale); a bare reward model directory scores raw
        self.scale = json.loads(record_file.read_text()).get("scale", 1.0) if record_file.exists() else 1.0

    def score_rows(self, rows: list[dict]) -> list[float]:
        """Gold rewards of {prompt, response} rows (scored in one child process; cached)."""
        missing = {}
        for row in rows:
            key = gold_key(row["prompt"], row["response"])
            if key not in self.cache and key not in missing:
                missing[key] = {"prompt": _scorable(row["prompt"]), "response": row["response"]}
        if missing:
            self.batches += 1
            data = write_jsonl(self.scratch / f"gold-input-{self.batches}.jsonl", list(missing.values()))
            output = self.scratch / f"gold-scores-{self.batches}.jsonl"
            run_training_command("score", ["--reward-model", str(self.directory), "--data", str(data),
                                           "--output", str(output)])
            for key, scored in zip(missing, read_jsonl(output)):
                self.cache[key] = float(scored["reward"]) * self.scale
        return [self.cache[gold_key(row["prompt"], row["response"])] for row in rows]

    def prime(self, rows: list[dict]) -> int:
        """Scores the rows not scored yet; returns how many were new."""
        before = len(self.cache)
        self.score_rows(rows)
        return len(self.cache) - before

    def __call__(self, prompt, response: str) -> float:
        try:
            return self.cache[gold_key(prompt, response)]
        except KeyError:
            raise KeyError("the gold model was not primed with this response") from None

"""Bradley-Terry reward models (TRL RewardTrainer), ensembles, evaluation and scoring.

Texts are tokenized here, before TRL sees them, because TRL drops pairs longer than
`max_length`; we truncate from the left instead, keeping the end of a dialogue where the judged
answer is. A reward model directory is either one Hugging Face sequence-classification model
(`num_labels=1`) or, for an ensemble, `ensemble.json` plus one such directory per member.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from training.configs import REWARD_TRAINABLE_LAYERS, EvaluateRewardConfig, RewardConfig, ScoreConfig
from training.data import PreferencePair, conversation_text, read_pairs, read_responses
from training.errors import TrainingUserError
from training.jsonl import write_jsonl
from training.progress import ProgressCallback, trainer_progress_callback
from training.runtime import freeze_lower_layers  # noqa: F401  (re-exported: part of this module's API)

ENSEMBLE_FILE = "ensemble.json"


# ----------------------------------------------------------------------------- pure math
def bradley_terry_loss(chosen_rewards, rejected_rewards, margins=None):
    """Mean of -log sigmoid(r_chosen - r_rejected - margin).

    chosen_rewards, rejected_rewards: (batch,) float; margins: (batch,) float or None. Returns a scalar.
    """
    import torch.nn.functional as F

    difference = chosen_rewards - rejected_rewards
    if margins is not None:
        difference = difference - margins
    return -F.logsigmoid(difference).mean()


def expected_calibration_error(probabilities, outcomes, bins: int = 10) -> float:
    """ECE of binary predictions, binned by confidence.

    probabilities: (n,) predicted P(outcome = 1), here sigmoid(r_chosen - r_rejected);
    outcomes: (n,) 0/1, here 1 (the chosen response really was chosen).
    Each prediction's confidence is max(p, 1 - p) and it is correct when it picks the outcome;
    ECE = sum over bins of (bin size / n) * |accuracy(bin) - mean confidence(bin)|.
    """
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    if len(probabilities) == 0:
        return float("nan")
    confidence = np.maximum(probabilities, 1 - probabilities)
    correct = ((probabilities >= 0.5) == (outcomes == 1)).astype(float)
    # confidence lies in [0.5, 1]: bin that interval
    edges = np.linspace(0.5, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


# ----------------------------------------------------------------------------- tokenization
def needs_eos(tokenizer) -> bool:
    """Causal-LM backbones read the reward at the last token: end every text with EOS (TRL's
    convention). Encoders (a SEP token closes the text) and pad == eos tokenizers do not."""
    return bool(tokenizer.eos_token) and tokenizer.sep_token is None and tokenizer.eos_token != tokenizer.pad_token


def encode_texts(tokenizer, texts: list[str], max_length: int) -> tuple[list[list[int]], int]:
    """Token ids of each text, truncated from the LEFT to `max_length`; also how many were cut."""
    if needs_eos(tokenizer):
        texts = [t if t.rstrip().endswith(tokenizer.eos_token) else t + tokenizer.eos_token for t in texts]
    previous_side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    try:
        # one token of slack tells which texts were cut, without tokenizing them untruncated
        probe = tokenizer(texts, truncation=True, max_length=max_length + 1)["input_ids"]
        kept = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    finally:
        tokenizer.truncation_side = previous_side
    truncated = sum(len(a) > len(b) for a, b in zip(probe, kept))
    return kept, truncated


def pair_texts(pairs: list[PreferencePair], tokenizer) -> tuple[list[str], list[str]]:
    chosen = [conversation_text(p.prompt, p.chosen, tokenizer) for p in pairs]
    rejected = [conversation_text(p.prompt, p.rejected, tokenizer) for p in pairs]
    return chosen, rejected


# ----------------------------------------------------------------------------- scoring
class RewardScorer:
    """Scores (prompt, response) texts with one reward model or the mean/std of an ensemble."""

    def __init__(self, members, tokenizers, max_length: int, device):
        self.members = members
        self.tokenizers = tokenizers
        self.max_length = max_length
        self.device = device

    @classmethod
    def load(cls, model_dir: str, device, models_dir: str | None = None) -> "RewardScorer":
        """Load a reward model directory written by `reward` (or any seq-cls model with one label)."""
        from transformers import AutoModelForSequenceClassification

        from training.runtime import load_pretrained, load_tokenizer, read_run_config, resolve_reference

        root = Path(resolve_reference(model_dir, models_dir))
        member_dirs = [root]
        if (root / ENSEMBLE_FILE).is_file():
            member_dirs = [root / name for name in json.loads((root / ENSEMBLE_FILE).read_text())["members"]]
        max_length = read_run_config(root).get("config", {}).get("max_length", 512)
        members, tokenizers = [], []
        for directory in member_dirs:
            reference = str(directory)
            model = load_pretrained(AutoModelForSequenceClassification.from_pretrained, reference, "reward model", dtype="float32")
            if model.config.num_labels != 1:
                raise TrainingUserError(f"{reference}: a reward model needs num_labels=1, found {model.config.num_labels}")
            tokenizer = load_tokenizer(reference)
            if model.config.pad_token_id is None:
                model.config.pad_token_id = tokenizer.pad_token_id
            members.append(model.to(device).eval())
            tokenizers.append(tokenizer)
        return cls(members, tokenizers, max_length, device)

    def score_member_texts(self, model, tokenizer, texts: list[str], batch_size: int = 32):
        """Rewards of already-rendered texts under one member: (n,) float tensor on CPU."""
        import torch

        ids, _ = encode_texts(tokenizer, texts, self.max_length)
        rewards = []
        # sorting by length keeps padding (and wasted compute) small
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                batch = [ids[i] for i in order[start : start + batch_size]]
                width = max(len(x) for x in batch)
                input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                for row, sequence in enumerate(batch):  # right padding: seq-cls reads the last non-pad token
                    input_ids[row, : len(sequence)] = torch.tensor(sequence)
                    attention[row, : len(sequence)] = 1
                logits = model(input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)).logits
                rewards.append(logits[:, 0].float().cpu())
        scores = torch.cat(rewards) if rewards else torch.zeros(0)
        result = torch.empty_like(scores)
        result[torch.tensor(order, dtype=torch.long)] = scores
        return result

    def score(self, prompts: list, responses: list, batch_size: int = 32):
        """Rewards of responses to prompts (text or messages): returns (mean, std), each (n,) tensors.

        Each member renders the texts with its own tokenizer, so a policy with another tokenizer
        is scored by decoding its responses to text first (the caller's job) and re-tokenizing here.
        """
        import torch

        per_member = []
        for model, tokenizer in zip(self.members, self.tokenizers):
            texts = [conversation_text(p, r, tokenizer) for p, r in zip(prompts, responses)]
            per_member.append(self.score_member_texts(model, tokenizer, texts, batch_size))
        stacked = torch.stack(per_member)  # (members, n)
        std = stacked.std(dim=0, unbiased=False) if len(per_member) > 1 else torch.zeros_like(stacked[0])
        return stacked.mean(dim=0), std

    def __call__(self, prompts: list, responses: list):
        return self.score(prompts, responses)[0]


def evaluate_pairs(scorer: RewardScorer, pairs: list[PreferencePair], batch_size: int = 32) -> dict:
    """Accuracy (chosen scored above rejected), Bradley-Terry loss, ECE and n of the (ensemble) scorer."""
    import torch

    from training import distributed

    # under several processes each rank scores its share; the metrics are over all pairs
    local = distributed.shard(pairs)
    prompts = [p.prompt for p in local]
    local_chosen = scorer.score(prompts, [p.chosen for p in local], batch_size)[0].tolist() if local else []
    local_rejected = scorer.score(prompts, [p.rejected for p in local], batch_size)[0].tolist() if local else []
    chosen = torch.tensor(distributed.gather_shards(local_chosen, len(pairs)))
    rejected = torch.tensor(distributed.gather_shards(local_rejected, len(pairs)))
    difference = chosen - rejected
    margins = torch.tensor([p.margin or 0.0 for p in pairs])
    probabilities = torch.sigmoid(difference)
    return {
        "accuracy": round(float((difference > 0).float().mean()), 4),
        "loss": round(float(bradley_terry_loss(chosen, rejected, margins)), 4),
        "ece": round(expected_calibration_error(probabilities.numpy(), [1] * len(pairs)), 4),
        "n": len(pairs),
    }


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class RewardTrainingResult:
    output_dir: Path
    metrics: dict


def _preference_dataset(pairs, tokenizer, max_length):
    from datasets import Dataset

    chosen_texts, rejected_texts = pair_texts(pairs, tokenizer)
    chosen_ids, chosen_cut = encode_texts(tokenizer, chosen_texts, max_length)
    rejected_ids, rejected_cut = encode_texts(tokenizer, rejected_texts, max_length)
    columns = {"chosen_ids": chosen_ids, "rejected_ids": rejected_ids}
    if any(p.margin is not None for p in pairs):
        columns["margin"] = [p.margin or 0.0 for p in pairs]
    return Dataset.from_dict(columns), chosen_cut + rejected_cut


def trl_reward_config(config: RewardConfig, device, output_dir, seed: int, precision: str = "fp32",
                      gradient_checkpointing: bool = False, **overrides):
    """The TRL RewardConfig this command uses (`precision` and checkpointing resolved, no saving mid-run)."""
    from trl import RewardConfig as TRLRewardConfig

    from training.runtime import trainer_precision_kwargs

    arguments = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=config.logging_steps,
        max_length=None,  # we truncated already, from the left
        seed=seed,
        data_seed=seed,
        lr_scheduler_type="linear",
        warmup_steps=0,
        center_rewards_coefficient=None,
        **trainer_precision_kwargs(device, precision, gradient_checkpointing),
    )
    arguments.update(overrides)
    return TRLRewardConfig(**arguments)


def train_reward_model(
    config: RewardConfig,
    train_pairs: list[PreferencePair],
    eval_pairs: list[PreferencePair] | None,
    on_progress: ProgressCallback | None = None,
) -> RewardTrainingResult:
    """Train `config.ensemble` Bradley-Terry reward models over `config.base_model`, save them to
    `config.output` and report accuracy, loss and ECE on `eval_pairs` (else on the training pairs).
    With --lora-r each member trains LoRA adapters and its head; members are saved merged."""
    from transformers import AutoModelForSequenceClassification
    from trl import RewardTrainer

    from training import distributed
    from training.lora import lora_config_for, save_trainer_output, wrap
    from training.runtime import load_pretrained, prepare_training, save_run_metadata, trainable_parameter_count
    from training.seeding import seed_everything

    started = time.monotonic()
    setup = prepare_training(config, config.base_model, task="reward")
    device, precision, tokenizer = setup.device, setup.precision, setup.tokenizer
    output_dir = Path(config.output)
    output_dir.mkdir(parents=True, exist_ok=True)
    if config.max_train_pairs and len(train_pairs) > config.max_train_pairs:
        import random

        train_pairs = random.Random(config.seed).sample(train_pairs, config.max_train_pairs)

    dataset, truncated = _preference_dataset(train_pairs, tokenizer, config.max_length)
    member_names, member_losses, train_seconds, train_cpu_seconds = [], [], 0.0, 0.0
    for member in range(config.ensemble):
        member_seed = config.seed + member
        seed_everything(member_seed)
        model = load_pretrained(AutoModelForSequenceClassification.from_pretrained, setup.model_path, "base model",
                                num_labels=1, dtype="float32")
        model.config.pad_token_id = tokenizer.pad_token_id
        if config.lora_r:
            model = wrap(model, lora_config_for(model, config, "SEQ_CLS"))
        elif config.trainable_layers is None:
            freeze_lower_layers(model, REWARD_TRAINABLE_LAYERS, at_most_all=True)
        else:
            freeze_lower_layers(model, config.trainable_layers)
        trainable_parameters = trainable_parameter_count(model)
        member_dir = output_dir if config.ensemble == 1 else output_dir / f"member-{member}"
        trainer = RewardTrainer(
            model=model,
            args=trl_reward_config(config, device, member_dir / "trainer-state", member_seed, precision,
                                   setup.gradient_checkpointing),
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[trainer_progress_callback(on_progress, offset_runs=member, runs=config.ensemble, extra={"member": member})],
        )
        seen_pairs = distributed.debug_recording(trainer, "chosen_ids")
        member_started, member_cpu_started = time.monotonic(), time.process_time()
        outcome = trainer.train()
        train_seconds += time.monotonic() - member_started
        train_cpu_seconds += time.process_time() - member_cpu_started
        member_losses.append(outcome.training_loss)
        trainer.model.eval()
        if member == 0:
            distributed.write_rank_debug("reward", {"checksum": distributed.parameter_checksum(trainer.model),
                                                    "chosen_ids": seen_pairs, "wrote_output": distributed.is_main_process()})
        save_trainer_output(trainer, tokenizer, member_dir)
        member_names.append(member_dir.name)
        del trainer, model
    if config.ensemble > 1 and distributed.is_main_process():
        (output_dir / ENSEMBLE_FILE).write_text(json.dumps({"members": member_names}, indent=2))

    # the run config must exist before loading: the scorer reads max_length from it
    save_run_metadata(output_dir, "reward", config, {}, setup.resolved())
    distributed.barrier()  # every rank loads what rank 0 wrote
    scorer = RewardScorer.load(str(output_dir), device)
    evaluated_pairs, prefix = (eval_pairs, "eval") if eval_pairs else (train_pairs, "train")
    evaluation = evaluate_pairs(scorer, evaluated_pairs)
    steps_pairs = len(train_pairs) * config.ensemble * (config.epochs if config.max_steps < 0 else 1)
    metrics = {
        f"{prefix}_accuracy": evaluation["accuracy"],
        f"{prefix}_loss": evaluation["loss"],
        f"{prefix}_ece": evaluation["ece"],
        f"{prefix}_n": evaluation["n"],
        "train_loss": round(sum(member_losses) / len(member_losses), 4),
        "train_pairs": len(train_pairs),
        "truncated_texts": truncated,
        "trainable_parameters": trainable_parameters,
        "ensemble": config.ensemble,
        "precision": precision,
        "pairs_per_second": round(steps_pairs / train_seconds, 2) if config.max_steps < 0 and train_seconds else None,
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(train_cpu_seconds, 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    if config.ensemble > 1:
        metrics["member_accuracy"] = [
            evaluate_pairs(RewardScorer([m], [t], scorer.max_length, device), evaluated_pairs)["accuracy"]
            for m, t in zip(scorer.members, scorer.tokenizers)
        ]
    save_run_metadata(output_dir, "reward", config, metrics, setup.resolved())
    return RewardTrainingResult(output_dir=output_dir, metrics=metrics)


# ----------------------------------------------------------------------------- CLI glue
def train_reward_model_from_files(config: RewardConfig, on_progress=None) -> RewardTrainingResult:
    train_pairs = read_pairs(config.train)
    eval_pairs = read_pairs(config.eval) if config.eval else None
    return train_reward_model(config, train_pairs, eval_pairs, on_progress)


def evaluate_reward_command(config: EvaluateRewardConfig) -> dict:
    from training.runtime import resolve_device
    from training.seeding import seed_everything

    pairs = read_pairs(config.data)
    seed_everything(config.seed)
    scorer = RewardScorer.load(config.model, resolve_device(config.device), config.models_dir)
    metrics = evaluate_pairs(scorer, pairs, config.batch_size)
    if config.output:
        Path(config.output).parent.mkdir(parents=True, exist_ok=True)
        Path(config.output).write_text(json.dumps(metrics, indent=2))
    return metrics


def score_command(config: ScoreConfig, on_progress=None) -> dict:
    from training.runtime import resolve_device

    rows = read_responses(config.data)
    scorer = RewardScorer.load(config.reward_model, resolve_device(config.device), config.models_dir)
    output_rows, chunk = [], max(config.batch_size * 4, 64)
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        mean, std = scorer.score([r.prompt for r in part], [r.response for r in part], config.batch_size)
        for row, reward, spread in zip(part, mean.tolist(), std.tolist()):
            output_rows.append({**row.extra, "prompt": row.prompt, "response": row.response,
                                "reward": reward, "reward_std": spread})
        if on_progress:
            on_progress(min(start + chunk, len(rows)), len(rows), {})
    write_jsonl(config.output, output_rows)
    rewards = [r["reward"] for r in output_rows]
    return {"n": len(rewards), "reward_mean": round(sum(rewards) / len(rewards), 4),
            "reward_std_mean": round(sum(r["reward_std"] for r in output_rows) / len(rewards), 4),
            "output": str(config.output)}

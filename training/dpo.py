"""Direct preference optimisation with TRL's DPOTrainer; the reference is the starting policy."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from training.configs import DPOConfig
from training.data import PreferencePair, read_pairs
from training.progress import ProgressCallback, trainer_progress_callback


@dataclass(frozen=True)
class DPOResult:
    output_dir: Path
    metrics: dict


def _as_trl_row(pair: PreferencePair, conversational: bool, tokenizer) -> dict:
    """TRL wants prompt and completions in one format across the dataset: wrap text replies as
    assistant messages after a conversational prompt; in a file that mixes formats, render every
    prompt to text with the policy's chat template."""
    from training.data import prompt_text, response_text

    if conversational:
        wrap = lambda reply: reply if isinstance(reply, list) else [{"role": "assistant", "content": reply}]
        return {"prompt": pair.prompt, "chosen": wrap(pair.chosen), "rejected": wrap(pair.rejected)}
    return {"prompt": prompt_text(pair.prompt, tokenizer), "chosen": response_text(pair.chosen),
            "rejected": response_text(pair.rejected)}


def preference_dataset(pairs: list[PreferencePair], tokenizer):
    """A TRL preference dataset (prompt, chosen, rejected) of one consistent format."""
    from datasets import Dataset

    conversational = all(isinstance(p.prompt, list) for p in pairs)
    return Dataset.from_list([_as_trl_row(p, conversational, tokenizer) for p in pairs])


def trl_dpo_config(config: DPOConfig, device, output_dir, precision: str = "fp32", **overrides):
    """The TRL DPOConfig this command uses (`precision` resolved, no checkpointing, nothing saved mid-run)."""
    from trl import DPOConfig as TRLDPOConfig

    from training.runtime import trainer_precision_kwargs

    arguments = dict(
        output_dir=str(output_dir), beta=config.beta, learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size, num_train_epochs=config.epochs,
        max_steps=config.max_steps, max_length=config.max_length, logging_steps=config.logging_steps,
        seed=config.seed, data_seed=config.seed, **trainer_precision_kwargs(device, precision),
    )
    arguments.update(overrides)
    return TRLDPOConfig(**arguments)


def train_dpo(config: DPOConfig, train_pairs: list[PreferencePair], eval_pairs: list[PreferencePair] | None,
              on_progress: ProgressCallback | None = None) -> DPOResult:
    """Train `config.policy` with DPO on the pairs, save to `config.output`, and report the held-out
    log-probability margin (chosen minus rejected) before and after training."""
    import shutil

    from trl import DPOTrainer

    from training import distributed
    from training.logprobs import preference_margins
    from training.runtime import load_causal_lm, load_tokenizer, resolve_device, resolve_precision, save_run_metadata
    from training.seeding import seed_everything

    started = time.monotonic()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    tokenizer = load_tokenizer(config.policy)
    policy = load_causal_lm(config.policy, device)
    measured = eval_pairs or train_pairs
    # each rank measures its share of the pairs; every rank gets all margins back
    local_margins = lambda model: preference_margins(model, tokenizer, distributed.shard(measured), device)
    margins_before = distributed.gather_shards(local_margins(policy), len(measured))
    output_dir = Path(config.output)
    trainer = DPOTrainer(
        model=policy,
        args=trl_dpo_config(config, device, output_dir / "trainer-state", precision),
        train_dataset=preference_dataset(train_pairs, tokenizer),
        processing_class=tokenizer,
        callbacks=[trainer_progress_callback(on_progress)],
    )
    seen_pairs = distributed.debug_recording(trainer, "chosen_ids")
    train_started, train_cpu_started = time.monotonic(), time.process_time()
    outcome = trainer.train()
    train_seconds = time.monotonic() - train_started
    train_cpu_seconds = time.process_time() - train_cpu_started
    policy = trainer.model.eval()
    state_dict = distributed.trainer_state_dict(trainer)  # FSDP/ZeRO: gathered, on every rank
    if distributed.is_main_process():
        shutil.rmtree(output_dir / "trainer-state", ignore_errors=True)
        policy.save_pretrained(output_dir, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(output_dir)
    if distributed.is_sharded(trainer):  # each rank holds a shard: measure the saved policy
        distributed.barrier()
        policy = load_causal_lm(str(output_dir), device)
    local_margins_after = local_margins(policy)
    margins_after = distributed.gather_shards(local_margins_after, len(measured))
    distributed.write_rank_debug("dpo", {"checksum": distributed.parameter_checksum(policy), "chosen_ids": seen_pairs,
                                         "margins": local_margins_after, "wrote_output": distributed.is_main_process()})
    prefix = "eval" if eval_pairs else "train"
    mean = lambda values: round(sum(values) / len(values), 4)
    metrics = {
        "train_loss": round(outcome.training_loss, 4),
        f"{prefix}_margin_before": mean(margins_before),
        f"{prefix}_margin": mean(margins_after),
        f"{prefix}_accuracy": round(sum(m > 0 for m in margins_after) / len(margins_after), 4),
        f"{prefix}_n": len(measured),
        "train_pairs": len(train_pairs),
        "precision": precision,
        "pairs_per_second": round(trainer.state.global_step * config.batch_size * distributed.world_size() / train_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(train_cpu_seconds, 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    save_run_metadata(output_dir, "dpo", config, metrics, {"precision": precision})
    return DPOResult(output_dir=output_dir, metrics=metrics)


def train_dpo_from_files(config: DPOConfig, on_progress=None) -> DPOResult:
    return train_dpo(config, read_pairs(config.train), read_pairs(config.eval) if config.eval else None, on_progress)

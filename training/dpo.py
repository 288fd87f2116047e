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


def _token_count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def preference_dataset(pairs: list[PreferencePair], tokenizer, max_length: int | None = None):
    """A TRL preference dataset (prompt, chosen, rejected) of one consistent format, and how many
    prompts were cut from the left so that prompt + the longer reply fit `max_length` tokens (TRL
    would cut the replies' ends instead, losing what the pair is about)."""
    from datasets import Dataset

    from training.data import conversation_text, left_truncate, prompt_text, response_text

    conversational = all(isinstance(p.prompt, list) for p in pairs)
    rows = [_as_trl_row(p, conversational, tokenizer) for p in pairs]
    if max_length is None:
        return Dataset.from_list(rows), 0
    too_long = [max(_token_count(tokenizer, conversation_text(p.prompt, p.chosen, tokenizer)),
                    _token_count(tokenizer, conversation_text(p.prompt, p.rejected, tokenizer))) > max_length
                for p in pairs]
    if not any(too_long):
        return Dataset.from_list(rows), 0
    # rows in text form (one format per dataset), over-long prompts keep their end
    rows = []
    for pair, cut in zip(pairs, too_long):
        prompt, chosen, rejected = prompt_text(pair.prompt, tokenizer), response_text(pair.chosen), response_text(pair.rejected)
        if cut:
            reply_tokens = max(_token_count(tokenizer, chosen), _token_count(tokenizer, rejected)) + 1  # + EOS
            prompt, _ = left_truncate(tokenizer, prompt, max(max_length - reply_tokens, 1))
        rows.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return Dataset.from_list(rows), sum(too_long)


def trl_dpo_config(config: DPOConfig, device, output_dir, precision: str = "fp32", gradient_checkpointing: bool = False,
                   **overrides):
    """The TRL DPOConfig this command uses (`precision` and checkpointing resolved, nothing saved mid-run)."""
    from trl import DPOConfig as TRLDPOConfig

    from training.runtime import trainer_precision_kwargs

    arguments = dict(
        output_dir=str(output_dir), beta=config.beta, learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size, num_train_epochs=config.epochs,
        max_steps=config.max_steps, max_length=config.max_length, logging_steps=config.logging_steps,
        seed=config.seed, data_seed=config.seed, **trainer_precision_kwargs(device, precision, gradient_checkpointing),
    )
    arguments.update(overrides)
    return TRLDPOConfig(**arguments)


def train_dpo(config: DPOConfig, train_pairs: list[PreferencePair], eval_pairs: list[PreferencePair] | None,
              on_progress: ProgressCallback | None = None) -> DPOResult:
    """Train `config.policy` with DPO on the pairs, save to `config.output`, and report the held-out
    log-probability margin (chosen minus rejected) before and after training.

    With --lora-r, TRL wraps the policy in LoRA adapters and computes the reference log-probabilities
    with the adapters disabled: one copy of the weights serves as policy and reference."""

    from trl import DPOTrainer

    from training import distributed
    from training.logprobs import preference_margins
    from training.lora import save_trainer_output
    from training.runtime import load_causal_lm, prepare_training, save_run_metadata, trainable_parameter_count

    started = time.monotonic()
    setup = prepare_training(config, config.policy)
    device, precision, tokenizer, policy = setup.device, setup.precision, setup.tokenizer, setup.model
    measured = eval_pairs or train_pairs
    # each rank measures its share of the pairs; every rank gets all margins back
    local_margins = lambda model: preference_margins(model, tokenizer, distributed.shard(measured), device)
    margins_before = distributed.gather_shards(local_margins(policy), len(measured))
    output_dir = Path(config.output)
    dataset, truncated = preference_dataset(train_pairs, tokenizer, config.max_length)
    trainer = DPOTrainer(
        model=policy,
        args=trl_dpo_config(config, device, output_dir / "trainer-state", precision, setup.gradient_checkpointing),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=setup.lora_config,
        callbacks=[trainer_progress_callback(on_progress)],
    )
    trainable = trainable_parameter_count(trainer.model)
    seen_pairs = distributed.debug_recording(trainer, "chosen_ids")
    train_started, train_cpu_started = time.monotonic(), time.process_time()
    outcome = trainer.train()
    train_seconds = time.monotonic() - train_started
    train_cpu_seconds = time.process_time() - train_cpu_started
    policy = trainer.model.eval()
    sharded = distributed.is_sharded(trainer)
    if not sharded:  # measured before saving: merging LoRA adapters for the save changes the model on rank 0
        local_margins_after = local_margins(policy)
        checksum = distributed.parameter_checksum(policy)
    save_trainer_output(trainer, tokenizer, output_dir, model=policy, adapter_only=config.save_adapter_only,
                        base_reference=config.policy)
    if sharded:  # each rank holds a shard: measure the saved policy
        distributed.barrier()
        policy = load_causal_lm(str(output_dir), device, config.models_dir)
        local_margins_after = local_margins(policy)
        checksum = distributed.parameter_checksum(policy)
    margins_after = distributed.gather_shards(local_margins_after, len(measured))
    distributed.write_rank_debug("dpo", {"checksum": checksum, "chosen_ids": seen_pairs,
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
        "truncated_prompts": truncated,
        "trainable_parameters": trainable,
        "precision": precision,
        "pairs_per_second": round(trainer.state.global_step * config.batch_size * distributed.world_size() / train_seconds, 2),
        "train_seconds": round(train_seconds, 2),
        "train_cpu_seconds": round(train_cpu_seconds, 2),
        "seconds": round(time.monotonic() - started, 1),
    }
    save_run_metadata(output_dir, "dpo", config, metrics, setup.resolved())
    return DPOResult(output_dir=output_dir, metrics=metrics)


def train_dpo_from_files(config: DPOConfig, on_progress=None) -> DPOResult:
    return train_dpo(config, read_pairs(config.train), read_pairs(config.eval) if config.eval else None, on_progress)

"""Supervised fine-tuning on demonstrations with TRL's SFTTrainer."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from training.configs import SFTConfig
from training.data import Demonstration, read_demonstrations
from training.progress import ProgressCallback, trainer_progress_callback


@dataclass(frozen=True)
class SFTResult:
    output_dir: Path
    metrics: dict


def _as_trl_row(demo: Demonstration, conversational: bool, tokenizer) -> dict:
    """One format per dataset: conversations stay conversations; a file that mixes text and
    conversational prompts is rendered to text with the policy's chat template."""
    from training.data import prompt_text, response_text

    if demo.messages is not None:
        return {"messages": demo.messages}
    if conversational:
        completion = demo.completion if isinstance(demo.completion, list) else [{"role": "assistant", "content": demo.completion}]
        return {"prompt": demo.prompt, "completion": completion}
    return {"prompt": prompt_text(demo.prompt, tokenizer), "completion": response_text(demo.completion)}


def train_sft(config: SFTConfig, demonstrations: list[Demonstration], on_progress: ProgressCallback | None = None) -> SFTResult:
    """Fine-tune `config.base_model` on the demonstrations (loss on completions only for
    prompt/completion rows) and save it to `config.output`."""
    from datasets import Dataset
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    from training import distributed
    from training.runtime import (load_causal_lm, load_tokenizer, resolve_device, resolve_precision, save_run_metadata,
                                  trainer_precision_kwargs)
    from training.seeding import seed_everything

    started = time.monotonic()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    tokenizer = load_tokenizer(config.base_model)
    policy = load_causal_lm(config.base_model, device)
    conversational = all(isinstance(d.prompt, list) for d in demonstrations if d.messages is None)
    rows = [_as_trl_row(d, conversational, tokenizer) for d in demonstrations]
    # a dataset mixes one format only: split conversations from prompt/completion rows
    kinds = {("messages" in row) for row in rows}
    if len(kinds) > 1:
        from training.errors import TrainingUserError

        raise TrainingUserError(f"{config.train}: mixes {{messages}} and {{prompt, completion}} lines; use one format")
    output_dir = Path(config.output)
    trainer = SFTTrainer(
        model=policy,
        args=TRLSFTConfig(
            output_dir=str(output_dir / "trainer-state"), learning_rate=config.lr,
            per_device_train_batch_size=config.batch_size, num_train_epochs=config.epochs, max_steps=config.max_steps,
            max_length=config.max_length, logging_steps=1, seed=config.seed, data_seed=config.seed,
            **trainer_precision_kwargs(device, precision),
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[trainer_progress_callback(on_progress)],
    )
    outcome = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    distributed.write_rank_debug("sft", {"checksum": distributed.parameter_checksum(trainer.model),
                                         "wrote_output": distributed.is_main_process()})
    state_dict = distributed.trainer_state_dict(trainer)  # FSDP/ZeRO: gathered, on every rank
    if distributed.is_main_process():
        shutil.rmtree(output_dir / "trainer-state", ignore_errors=True)
        trainer.model.save_pretrained(output_dir, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(output_dir)
    metrics = {"train_loss": round(outcome.training_loss, 4), "first_loss": round(losses[0], 4) if losses else None,
               "final_loss": round(losses[-1], 4) if losses else None, "examples": len(rows),
               "steps": trainer.state.global_step, "precision": precision, "seconds": round(time.monotonic() - started, 1)}
    save_run_metadata(output_dir, "sft", config, metrics, {"precision": precision})
    return SFTResult(output_dir=output_dir, metrics=metrics)


def train_sft_from_files(config: SFTConfig, on_progress=None) -> SFTResult:
    return train_sft(config, read_demonstrations(config.train), on_progress)

"""Supervised fine-tuning on demonstrations with TRL's SFTTrainer."""
from __future__ import annotations

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


def truncate_demonstration_prompts(rows: list[dict], tokenizer, max_length: int) -> tuple[list[dict], int]:
    """Cut prompts from the left so prompt + completion fit `max_length` tokens (TRL would cut the
    completion's end instead). Rows needing it are rendered to text; returns (rows, how many were cut).
    A conversation row ({messages}) is left to TRL."""
    from training.data import conversation_text, left_truncate, prompt_text, response_text

    cut, result = 0, []
    for row in rows:
        if "prompt" not in row:
            result.append(row)
            continue
        prompt = prompt_text(row["prompt"], tokenizer)
        completion = response_text(row["completion"])
        completion_tokens = len(tokenizer(completion, add_special_tokens=False)["input_ids"]) + 1  # + EOS
        full_tokens = len(tokenizer(conversation_text(row["prompt"], row["completion"], tokenizer),
                                    add_special_tokens=False)["input_ids"])
        if full_tokens <= max_length:
            result.append(row)
            continue
        prompt, _ = left_truncate(tokenizer, prompt, max(max_length - completion_tokens, 1))
        result.append({"prompt": prompt, "completion": completion})
        cut += 1
    if cut and any(isinstance(row.get("prompt"), list) for row in result):
        # one format per dataset: render the rest to text too
        result = [row if "prompt" not in row or isinstance(row["prompt"], str) else
                  {"prompt": prompt_text(row["prompt"], tokenizer), "completion": response_text(row["completion"])}
                  for row in result]
    return result, cut


def train_sft(config: SFTConfig, demonstrations: list[Demonstration], on_progress: ProgressCallback | None = None) -> SFTResult:
    """Fine-tune `config.base_model` on the demonstrations (loss on completions only for
    prompt/completion rows) and save it to `config.output`."""
    from datasets import Dataset
    from trl import SFTConfig as TRLSFTConfig
    from trl import SFTTrainer

    from training import distributed
    from training.lora import save_trainer_output
    from training.runtime import prepare_training, save_run_metadata, trainable_parameter_count

    started = time.monotonic()
    setup = prepare_training(config, config.base_model)
    tokenizer = setup.tokenizer
    conversational = all(isinstance(d.prompt, list) for d in demonstrations if d.messages is None)
    rows = [_as_trl_row(d, conversational, tokenizer) for d in demonstrations]
    # a dataset mixes one format only: split conversations from prompt/completion rows
    kinds = {("messages" in row) for row in rows}
    if len(kinds) > 1:
        from training.errors import TrainingUserError

        raise TrainingUserError(f"{config.train}: mixes {{messages}} and {{prompt, completion}} lines; use one format")
    rows, truncated = truncate_demonstration_prompts(rows, tokenizer, config.max_length)
    output_dir = Path(config.output)
    trainer = SFTTrainer(
        model=setup.model,
        args=TRLSFTConfig(
            output_dir=str(output_dir / "trainer-state"), learning_rate=config.lr,
            per_device_train_batch_size=config.batch_size, num_train_epochs=config.epochs, max_steps=config.max_steps,
            max_length=config.max_length, logging_steps=1, seed=config.seed, data_seed=config.seed,
            **setup.trainer_kwargs(),
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=setup.lora_config,
        callbacks=[trainer_progress_callback(on_progress)],
    )
    trainable = trainable_parameter_count(trainer.model)
    outcome = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    distributed.write_rank_debug("sft", {"checksum": distributed.parameter_checksum(trainer.model),
                                         "wrote_output": distributed.is_main_process()})
    save_trainer_output(trainer, tokenizer, output_dir, adapter_only=config.save_adapter_only,
                        base_reference=config.base_model)
    metrics = {"train_loss": round(outcome.training_loss, 4), "first_loss": round(losses[0], 4) if losses else None,
               "final_loss": round(losses[-1], 4) if losses else None, "examples": len(rows),
               "truncated_prompts": truncated, "trainable_parameters": trainable,
               "steps": trainer.state.global_step, "precision": setup.precision, "seconds": round(time.monotonic() - started, 1)}
    save_run_metadata(output_dir, "sft", config, metrics, setup.resolved())
    return SFTResult(output_dir=output_dir, metrics=metrics)


def train_sft_from_files(config: SFTConfig, on_progress=None) -> SFTResult:
    return train_sft(config, read_demonstrations(config.train), on_progress)

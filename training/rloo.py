"""REINFORCE leave-one-out (TRL RLOOTrainer) with our reward model wrapped as a reward function."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from training.configs import RLOOConfig
from training.data import read_prompts
from training.progress import ProgressCallback, trainer_progress_callback


@dataclass(frozen=True)
class RLOOResult:
    output_dir: Path
    metrics: dict


def reward_function_from(reward_fn, original_prompts: dict):
    """Adapt `reward_fn(prompts, responses) -> tensor` to TRL's `(prompts, completions, **kw) -> list[float]`.

    The policy sees prompts rendered with its own chat template; the reward model gets the
    original prompt (text or messages) back through `original_prompts` and renders it itself.
    """
    def rewards(prompts, completions, **kwargs):
        originals = [original_prompts.get(p, p) for p in prompts]
        return [float(x) for x in reward_fn(originals, list(completions))]

    rewards.__name__ = "reward_model"  # TRL names the logged metric after the function
    return rewards


def train_rloo(config: RLOOConfig, prompts: list, reward_fn, on_progress: ProgressCallback | None = None) -> RLOOResult:
    """Optimise `config.policy` with RLOO against `reward_fn` and save it to `config.output`."""
    from datasets import Dataset
    from trl import RLOOConfig as TRLRLOOConfig
    from trl import RLOOTrainer

    from training import distributed
    from training.data import left_truncate, prompt_text
    from training.lora import save_trainer_output
    from training.runtime import prepare_training, save_run_metadata, trainable_parameter_count

    started = time.monotonic()
    setup = prepare_training(config, config.policy)
    tokenizer = setup.tokenizer
    output_dir = Path(config.output)
    # rendered text prompts keep one dataset format even when the file mixes text and conversations;
    # over-long ones keep their end (TRL's RLOO does not truncate prompts)
    rendered, truncated = {}, 0
    for prompt in prompts:
        text, cut = left_truncate(tokenizer, prompt_text(prompt, tokenizer), config.max_prompt_length)
        rendered[text] = prompt
        truncated += cut
    trainer = RLOOTrainer(
        model=setup.model,
        reward_funcs=[reward_function_from(reward_fn, rendered)],
        args=TRLRLOOConfig(
            output_dir=str(output_dir / "trainer-state"), learning_rate=config.lr, max_steps=config.steps,
            per_device_train_batch_size=config.batch_size, num_generations=config.num_generations,
            max_completion_length=config.max_new_tokens, temperature=config.temperature, beta=config.beta,
            logging_steps=1, seed=config.seed, data_seed=config.seed, **setup.trainer_kwargs(),
        ),
        train_dataset=Dataset.from_list([{"prompt": text} for text in rendered]),
        processing_class=tokenizer,
        peft_config=setup.lora_config,
        callbacks=[trainer_progress_callback(on_progress)],
    )
    trainable = trainable_parameter_count(trainer.model)
    trainer.train()
    history = [entry for entry in trainer.state.log_history if "reward" in entry]
    distributed.write_rank_debug("rloo", {"checksum": distributed.parameter_checksum(trainer.model),
                                          "wrote_output": distributed.is_main_process()})
    save_trainer_output(trainer, tokenizer, output_dir, adapter_only=config.save_adapter_only,
                        base_reference=config.policy)
    metrics = {
        "reward_mean": round(history[-1]["reward"], 4) if history else None,
        "kl": round(history[-1].get("kl", 0.0), 4) if history else None,
        "steps": trainer.state.global_step,
        "truncated_prompts": truncated,
        "trainable_parameters": trainable,
        "precision": setup.precision,
        "seconds": round(time.monotonic() - started, 1),
        "history": {"reward_mean": [round(h["reward"], 5) for h in history],
                    "kl": [round(h.get("kl", 0.0), 5) for h in history]},
    }
    save_run_metadata(output_dir, "rloo", config, metrics, setup.resolved())
    return RLOOResult(output_dir=output_dir, metrics=metrics)


def train_rloo_from_files(config: RLOOConfig, on_progress=None) -> RLOOResult:
    from training.reward import RewardScorer
    from training.runtime import resolve_device

    prompts = [row.prompt for row in read_prompts(config.prompts)]
    scorer = RewardScorer.load(config.reward_model, resolve_device(config.device), config.models_dir)
    result = train_rloo(config, prompts, scorer, on_progress)
    return RLOOResult(result.output_dir, {k: v for k, v in result.metrics.items() if k != "history"})

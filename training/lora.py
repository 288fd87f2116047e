"""LoRA adapters through peft: the config a command asks for, wrapping, saving and loading.

A trained policy is saved in one of two layouts:
- merged (the default): a complete Hugging Face directory, the adapters folded into the weights;
- adapter-only (`--save-adapter-only`): `adapter_config.json` + `adapter_model.safetensors`, the
  tokenizer, and `adapter_base.json` naming the base it applies to (as the user gave it, so a
  built-in name resolves again on another machine). Every command that reads a policy loads the
  base, applies the adapter and merges it (`load_adapter_model`).
"""
from __future__ import annotations

import json
from pathlib import Path

from training.errors import TrainingUserError

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_BASE_FILE = "adapter_base.json"

# Every linear layer of a Llama block (attention and MLP), and of a BERT layer.
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ENCODER_TARGETS = ("query", "key", "value", "dense")


def _linear_module_names(model) -> set[str]:
    import torch.nn as nn

    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)}


def default_target_modules(model) -> list[str]:
    """The LoRA targets for `model`: Llama-family projections or BERT's attention/dense layers."""
    present = _linear_module_names(model)
    for family in (LLAMA_TARGETS, ENCODER_TARGETS):
        chosen = [name for name in family if name in present]
        if chosen:
            return chosen
    raise TrainingUserError("--lora-r: no default target modules for this architecture; name them with "
                            f"--lora-target-modules (its linear layers: {', '.join(sorted(present))})")


def lora_config_for(model, config, task: str):
    """peft's LoraConfig from a TrainerConfig's --lora-* flags. task: "CAUSAL_LM" or "SEQ_CLS"
    (peft then also trains and saves the classification head)."""
    from peft import LoraConfig

    targets = config.lora_targets or default_target_modules(model)
    missing = [name for name in targets if name not in _linear_module_names(model)]
    if missing:
        raise TrainingUserError(f"--lora-target-modules: the model has no linear layers named {', '.join(missing)}")
    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=targets, bias="none", task_type=task)


def wrap(model, lora_config):
    """The model with LoRA adapters (initialised to a zero update); only adapters (and, for
    sequence classification, the head) train."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config)


def is_peft_model(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is pinned in requirements.txt
        return False
    return isinstance(model, PeftModel)


def is_adapter_dir(path) -> bool:
    """An adapter-only directory: an adapter config and no full weights."""
    path = Path(path)
    return (path / ADAPTER_CONFIG_FILE).is_file() and not (path / "model.safetensors").is_file()


def adapter_base(path) -> str:
    """The base model an adapter-only directory applies to: `adapter_base.json`'s reference (as the
    user gave it), else peft's `base_model_name_or_path`."""
    path = Path(path)
    pointer = path / ADAPTER_BASE_FILE
    if pointer.is_file():
        return json.loads(pointer.read_text())["base_model"]
    base = json.loads((path / ADAPTER_CONFIG_FILE).read_text()).get("base_model_name_or_path")
    if not base:
        raise TrainingUserError(f"{path}: an adapter without a base model (no {ADAPTER_BASE_FILE}, no base_model_name_or_path)")
    return base


def load_adapter_model(path, base_model):
    """`base_model` (already loaded from `adapter_base(path)`) with the adapter at `path` merged in."""
    from peft import PeftModel

    return PeftModel.from_pretrained(base_model, str(path)).merge_and_unload()


def save_model(model, tokenizer, output_dir, *, adapter_only: bool = False, base_reference: str | None = None,
               state_dict=None):
    """Save `model` (a peft model or a plain one) with its tokenizer as an HF directory; adapters
    are merged unless `adapter_only`. Returns the model as saved (merged, when it was merged).

    `state_dict` is the gathered full state dict of a model sharded over ranks (FSDP, DeepSpeed;
    `distributed.trainer_state_dict`), whose own parameters are then only this rank's part. Call
    it on the main process only."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if is_peft_model(model):
        if adapter_only:
            model.save_pretrained(output_dir, safe_serialization=True, state_dict=state_dict)
            (output_dir / ADAPTER_BASE_FILE).write_text(json.dumps(
                {"base_model": base_reference or model.peft_config["default"].base_model_name_or_path}, indent=2))
            tokenizer.save_pretrained(output_dir)
            return model
        if state_dict is not None:
            model = _merged_from_gathered(model, state_dict, output_dir)
        else:
            model = model.merge_and_unload()
        state_dict = None
    model.save_pretrained(output_dir, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(output_dir)
    return model


def _merged_from_gathered(model, state_dict, output_dir: Path):
    """A sharded peft model merged: its gathered adapter weights are saved aside, applied to a fresh
    copy of the base (whose weights the sharded model no longer holds whole) and merged."""
    import tempfile

    from peft import PeftModel

    base_model = model.get_base_model()
    base_path = model.peft_config["default"].base_model_name_or_path
    with tempfile.TemporaryDirectory(dir=output_dir) as adapter_dir:
        model.save_pretrained(adapter_dir, safe_serialization=True, state_dict=state_dict)
        fresh_base = type(base_model).from_pretrained(base_path, config=base_model.config, dtype="float32")
        return PeftModel.from_pretrained(fresh_base, adapter_dir).merge_and_unload()


def save_trainer_output(trainer, tokenizer, output_dir, *, model=None, **save_options) -> None:
    """Save what a TRL trainer trained: every rank gathers the weights (FSDP/ZeRO shard them, and
    gathering is a collective, so all ranks call this); rank 0 alone removes TRL's scratch folder
    (nothing in it is worth keeping: no mid-run saves) and writes `output_dir` with `save_model`.
    `model` defaults to the trainer's."""
    import shutil

    from training import distributed

    state_dict = distributed.trainer_state_dict(trainer)
    if distributed.is_main_process():
        shutil.rmtree(Path(output_dir) / "trainer-state", ignore_errors=True)
        save_model(trainer.model if model is None else model, tokenizer, output_dir, state_dict=state_dict,
                   **save_options)

"""Shared plumbing of the commands: devices, precision, loading models offline (built-in names,
local directories in either layout, hub ids), the set-up every trainer starts with, run metadata."""
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import TrainingUserError

RUN_CONFIG_FILE = "training_config.json"  # config.json belongs to the model in an HF directory
METRICS_FILE = "metrics.json"


def resolve_device(device: str):
    """`auto` means CUDA when available, else CPU."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainingUserError("--device cuda: no CUDA device is available")
    return torch.device(device)


# CPU flags (Linux /proc/cpuinfo names) of native bf16 arithmetic. Without them bf16 autocast is
# emulated: MiniLM reward training took 113.7 s in bf16 vs 7.2 s in fp32 on such a CPU; with
# avx512_bf16 (this machine) bf16 was faster than fp32 (bench/README.md, training).
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def choose_precision(requested: str, *, device_type: str, cpu_flags: frozenset, cuda_bf16_supported: bool) -> str:
    """The precision a TRL trainer runs in: "bf16" (autocast, fp32 master weights) or "fp32".

    `auto` picks bf16 where the hardware computes it natively: a CUDA device that supports it, or a
    CPU whose `cpu_flags` include avx512_bf16 or amx_bf16; fp32 otherwise. An explicit `bf16` on a
    CUDA device without bf16 support is a user error (on a CPU it is honoured, only slower)."""
    if requested == "fp32":
        return "fp32"
    native = cuda_bf16_supported if device_type == "cuda" else bool(CPU_BF16_FLAGS & cpu_flags)
    if requested == "bf16":
        if device_type == "cuda" and not native:
            raise TrainingUserError("--precision bf16: this CUDA device does not support bf16 (use fp32 or auto)")
        return "bf16"
    return "bf16" if native else "fp32"


def cpu_flags() -> frozenset:
    """The CPU feature flags from /proc/cpuinfo (Linux); empty elsewhere, which means fp32 for auto."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def resolve_precision(requested: str, device) -> str:
    """`choose_precision` for this machine's `device` (a torch.device)."""
    import torch

    on_cuda = device.type == "cuda"
    return choose_precision(requested, device_type=device.type, cpu_flags=frozenset() if on_cuda else cpu_flags(),
                            cuda_bf16_supported=on_cuda and torch.cuda.is_bf16_supported())


def choose_gradient_checkpointing(requested: str, *, device_type: str) -> bool:
    """Whether to recompute activations in the backward pass. `auto`: on CUDA (memory is the limit
    there, and TRL does the same by default), off on CPU (only costs time); `on`/`off` as asked."""
    if requested in ("on", "off"):
        return requested == "on"
    return device_type == "cuda"


def trainer_precision_kwargs(device, precision: str = "fp32", gradient_checkpointing: bool = False) -> dict:
    """TRL configs default to bf16 and gradient checkpointing; we set both explicitly: bf16 only when
    `precision` (resolved by `resolve_precision`) says so, gradient checkpointing as
    `choose_gradient_checkpointing` decided (by default off on CPU, where memory is not the limit).
    `use_cpu` stops accelerate from picking a GPU the user did not ask for."""
    on_cpu = device.type == "cpu"
    return {
        "bf16": precision == "bf16",
        "fp16": False,
        "gradient_checkpointing": gradient_checkpointing,
        "use_cpu": on_cpu,
        "report_to": "none",
        "disable_tqdm": True,
        "save_strategy": "no",
        "dataloader_num_workers": 0,
    }


def load_pretrained(loader, reference: str, what: str, **kwargs):
    """Load from a local directory or a hub id, turning "not found" into a one-line user error."""
    try:
        return loader(reference, **kwargs)
    except (OSError, ValueError) as error:
        hint = " (HF_HUB_OFFLINE is set: only local directories and cached ids work)" if os.environ.get("HF_HUB_OFFLINE") else ""
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrainingUserError(f"cannot load {what} {reference!r}: {first_line}{hint}") from None


def resolve_reference(reference: str, models_dir: str | None = None) -> str:
    """A built-in model name becomes its materialized directory; paths and hub ids pass through."""
    from training.model_sources import resolve_model_reference

    return resolve_model_reference(reference, models_dir)


def load_tokenizer(reference: str, models_dir: str | None = None, **kwargs):
    from transformers import AutoTokenizer

    reference = resolve_reference(reference, models_dir)
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, reference, "tokenizer", **kwargs)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TrainingUserError(f"tokenizer of {reference!r} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(reference: str, device, models_dir: str | None = None):
    """A causal LM from a built-in name, a hub id, or a local directory: a complete HF directory or
    an adapter-only one (its base loaded, the adapter applied and merged). fp32 master weights."""
    from transformers import AutoModelForCausalLM

    from training.lora import adapter_base, is_adapter_dir, load_adapter_model

    reference = resolve_reference(reference, models_dir)
    if is_adapter_dir(reference):
        base = load_causal_lm(adapter_base(reference), "cpu", models_dir)
        return load_adapter_model(reference, base).to(device)
    model = load_pretrained(AutoModelForCausalLM.from_pretrained, reference, "policy", dtype="float32")
    return model.to(device)


def generation_eos_ids(model, tokenizer) -> list[int]:
    """Every token that ends a response: the tokenizer's EOS and the model's generation-config EOS
    ids (a chat model may stop at <|im_end|> and <|endoftext|> alike)."""
    ids = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in ([tokenizer.eos_token_id], configured if isinstance(configured, list) else [configured]):
        for token in value:
            if token is not None and token not in ids:
                ids.append(int(token))
    return ids


def freeze_lower_layers(model, trainable_layers: int, *, at_most_all: bool = False) -> int:
    """Freeze the embeddings and all but the top `trainable_layers` transformer blocks; the final
    norm and the head stay trainable (a causal LM's head is its output embedding; with tied
    embeddings that is the input embedding too). Returns how many parameters still train.

    Asking for more blocks than the model has is an error, unless `at_most_all` (a default that
    must fit any model): then a smaller model trains every block."""
    import torch.nn as nn

    if trainable_layers <= 0:
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    backbone = model.base_model
    blocks = max((m for m in backbone.modules() if isinstance(m, nn.ModuleList)), key=len, default=None)
    if blocks is None:
        raise TrainingUserError("--trainable-layers: cannot find the transformer blocks of this model")
    if at_most_all:
        trainable_layers = min(trainable_layers, len(blocks))
    if trainable_layers > len(blocks):
        raise TrainingUserError(f"--trainable-layers {trainable_layers}: the model has {len(blocks)} blocks")
    for parameter in backbone.parameters():
        parameter.requires_grad_(False)
    for block in list(blocks)[-trainable_layers:]:
        for parameter in block.parameters():
            parameter.requires_grad_(True)
    # modules after the blocks (final norm, pooler) follow the head's lead
    for name, module in backbone.named_children():
        if name in ("norm", "final_layernorm", "ln_f", "pooler"):
            for parameter in module.parameters():
                parameter.requires_grad_(True)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None:
        for parameter in head.parameters():
            parameter.requires_grad_(True)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class TrainingSetup:
    """What every trainer starts from (`prepare_training`)."""

    device: Any  # torch.device
    precision: str  # "bf16" or "fp32", resolved
    gradient_checkpointing: bool
    model_path: str  # the resolved model reference (a built-in name becomes its directory)
    tokenizer: Any
    model: Any  # the causal LM with lower layers frozen per --trainable-layers; None for task "reward"
    lora_config: Any  # peft LoraConfig for --lora-r > 0 (the caller or TRL wraps the model), else None

    def trainer_kwargs(self) -> dict:
        """The precision/checkpointing/CPU arguments of a TRL config."""
        return trainer_precision_kwargs(self.device, self.precision, self.gradient_checkpointing)

    def resolved(self) -> dict:
        """What `auto` settings and model names became, for training_config.json."""
        return {"precision": self.precision, "gradient_checkpointing": self.gradient_checkpointing,
                "model_path": self.model_path}


def prepare_training(config, reference: str, *, task: str = "causal-lm") -> TrainingSetup:
    """Seed, device, precision, gradient checkpointing, tokenizer and (for task "causal-lm") the
    model with --trainable-layers applied and --lora-* turned into a peft LoraConfig.
    `config` is a TrainerConfig; task "reward" leaves the model to the caller (one per member)."""
    from training.seeding import seed_everything

    seed_everything(config.seed)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    checkpointing = choose_gradient_checkpointing(config.gradient_checkpointing, device_type=device.type)
    model_path = resolve_reference(reference, config.models_dir)
    tokenizer = load_tokenizer(model_path)
    model, lora_config = None, None
    if task == "causal-lm":
        model = load_causal_lm(model_path, device, config.models_dir)
        if config.lora_r:
            from training.lora import lora_config_for

            lora_config = lora_config_for(model, config, "CAUSAL_LM")
        else:
            freeze_lower_layers(model, config.trainable_layers)
    return TrainingSetup(device=device, precision=precision, gradient_checkpointing=checkpointing,
                         model_path=model_path, tokenizer=tokenizer, model=model, lora_config=lora_config)


def trainable_parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def library_versions() -> dict:
    import torch
    import transformers
    import trl

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "trl": trl.__version__}


def save_run_metadata(output_dir, command: str, config, metrics: dict, resolved: dict | None = None) -> None:
    """Write the resolved config (with its seed) and the final metrics next to the weights.
    `resolved` records what `auto` settings became on this machine, e.g. {"precision": "bf16"}.
    Under several processes only rank 0 writes."""
    from training.distributed import is_main_process, world_size

    if not is_main_process():
        return
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "seed": config.seed, "config": config.to_dict(), "versions": library_versions(),
              "processes": world_size()}
    if resolved:
        record["resolved"] = resolved
    (output_dir / RUN_CONFIG_FILE).write_text(json.dumps(record, indent=2))
    (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))


def read_run_config(model_dir) -> dict:
    """The `training_config.json` a command saved, or {} for models trained elsewhere."""
    path = Path(model_dir) / RUN_CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else {}

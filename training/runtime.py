"""Shared plumbing of the commands: devices, loading models offline, saving run metadata."""
import json
import os
import platform
from pathlib import Path

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


def trainer_precision_kwargs(device, precision: str = "fp32") -> dict:
    """TRL configs default to bf16 and gradient checkpointing; we set both explicitly: bf16 only when
    `precision` (resolved by `resolve_precision`) says so, and gradient checkpointing never (on
    CPU it only recomputes activations; memory is not the limit here). `use_cpu` stops accelerate
    from picking a GPU the user did not ask for."""
    on_cpu = device.type == "cpu"
    return {
        "bf16": precision == "bf16",
        "fp16": False,
        "gradient_checkpointing": False,
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


def load_tokenizer(reference: str, **kwargs):
    from transformers import AutoTokenizer

    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, reference, "tokenizer", **kwargs)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TrainingUserError(f"tokenizer of {reference!r} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(reference: str, device):
    from transformers import AutoModelForCausalLM

    model = load_pretrained(AutoModelForCausalLM.from_pretrained, reference, "policy", dtype="float32")
    return model.to(device)


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

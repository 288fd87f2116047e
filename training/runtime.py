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


def trainer_precision_kwargs(device) -> dict:
    """TRL configs default to bf16 and gradient checkpointing, which on CPU cost ~15x; turn both
    off there. `use_cpu` stops accelerate from picking a GPU the user did not ask for."""
    on_cpu = device.type == "cpu"
    return {
        "bf16": False,
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


def save_run_metadata(output_dir, command: str, config, metrics: dict) -> None:
    """Write the resolved config (with its seed) and the final metrics next to the weights."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "seed": config.seed, "config": config.to_dict(), "versions": library_versions()}
    (output_dir / RUN_CONFIG_FILE).write_text(json.dumps(record, indent=2))
    (output_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))


def read_run_config(model_dir) -> dict:
    """The `training_config.json` a command saved, or {} for models trained elsewhere."""
    path = Path(model_dir) / RUN_CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else {}

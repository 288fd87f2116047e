"""`--precision`: auto resolves to bf16 only where the hardware computes it natively, and a bf16
reward model still learns the synthetic preference (on a CPU without bf16 units: fp32 is chosen)."""
import json

import pytest

from training.configs import RewardConfig
from training.data import read_pairs
from training.errors import TrainingUserError
from training.reward import train_reward_model
from training.runtime import choose_precision, cpu_flags, trainer_precision_kwargs

AVX512_ONLY = frozenset({"fpu", "sse2", "avx2", "avx512f"})


def test_auto_picks_bf16_on_a_cuda_device_that_supports_it():
    assert choose_precision("auto", device_type="cuda", cpu_flags=frozenset(), cuda_bf16_supported=True) == "bf16"
    assert choose_precision("auto", device_type="cuda", cpu_flags=frozenset(), cuda_bf16_supported=False) == "fp32"


def test_auto_picks_bf16_on_a_cpu_with_native_bf16_units():
    for flag in ("avx512_bf16", "amx_bf16"):
        assert choose_precision("auto", device_type="cpu", cpu_flags=AVX512_ONLY | {flag}, cuda_bf16_supported=True) == "bf16"


def test_auto_keeps_fp32_on_a_cpu_without_bf16_units():
    # where stack-notes measured bf16 autocast 15x slower than fp32
    assert choose_precision("auto", device_type="cpu", cpu_flags=AVX512_ONLY, cuda_bf16_supported=True) == "fp32"
    assert choose_precision("auto", device_type="cpu", cpu_flags=frozenset(), cuda_bf16_supported=False) == "fp32"


def test_explicit_precision_is_honoured_except_bf16_on_a_cuda_device_without_it():
    assert choose_precision("fp32", device_type="cuda", cpu_flags=frozenset(), cuda_bf16_supported=True) == "fp32"
    assert choose_precision("bf16", device_type="cpu", cpu_flags=AVX512_ONLY, cuda_bf16_supported=False) == "bf16"
    with pytest.raises(TrainingUserError, match="--precision bf16: this CUDA device does not support bf16"):
        choose_precision("bf16", device_type="cuda", cpu_flags=frozenset(), cuda_bf16_supported=False)


def test_trainer_flags_follow_the_precision_and_never_checkpoint_gradients():
    import torch

    cpu = torch.device("cpu")
    assert trainer_precision_kwargs(cpu, "bf16")["bf16"] is True
    assert trainer_precision_kwargs(cpu, "fp32")["bf16"] is False
    assert not trainer_precision_kwargs(cpu, "bf16")["gradient_checkpointing"]
    assert trainer_precision_kwargs(cpu, "bf16")["use_cpu"] is True


def test_precision_is_validated(tiny_policy_dir, synthetic_pair_files):
    with pytest.raises(TrainingUserError, match="--precision must be auto, fp32 or bf16, not 'fp16'"):
        RewardConfig(base_model=str(tiny_policy_dir), train=synthetic_pair_files[0], output="x", precision="fp16")


def test_auto_reward_model_learns_the_synthetic_preference_in_the_precision_this_cpu_supports(
        tiny_policy_dir, synthetic_pair_files, tmp_path):
    """On this machine (avx512_bf16) auto means a bf16 run; on a CPU without bf16 units the same
    test checks that fp32 was chosen (and still learns)."""
    has_bf16_units = bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    train_file, eval_file = synthetic_pair_files
    config = RewardConfig(base_model=str(tiny_policy_dir), train=train_file, eval=eval_file, output=str(tmp_path / "rm"),
                          lr=1e-3, epochs=2, batch_size=16, device="cpu", precision="auto")
    result = train_reward_model(config, read_pairs(train_file), read_pairs(eval_file))
    expected = "bf16" if has_bf16_units else "fp32"
    assert result.metrics["precision"] == expected
    assert result.metrics["eval_accuracy"] >= 0.9, result.metrics
    saved = json.loads((tmp_path / "rm" / "training_config.json").read_text())
    assert saved["config"]["precision"] == "auto" and saved["resolved"]["precision"] == expected
    assert json.loads((tmp_path / "rm" / "metrics.json").read_text())["precision"] == expected

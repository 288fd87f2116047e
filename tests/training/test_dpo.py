"""DPO (TRL) on the tiny policy: the held-out chosen-minus-rejected log-probability margin rises."""
from training.configs import DPOConfig
from training.data import read_pairs
from training.dpo import train_dpo

from .helpers import assert_hf_model_dir, changed_tensors


def test_dpo_raises_the_held_out_margin(tiny_policy_dir, synthetic_pair_files, tmp_path):
    train_file, eval_file = synthetic_pair_files
    config = DPOConfig(policy=str(tiny_policy_dir), train=train_file, eval=eval_file, output=str(tmp_path / "dpo"),
                       lr=1e-3, beta=0.1, max_steps=15, batch_size=8, max_length=128, device="cpu")
    result = train_dpo(config, read_pairs(train_file), read_pairs(eval_file))
    metrics = result.metrics
    assert metrics["eval_margin"] > metrics["eval_margin_before"] + 5.0, metrics
    assert metrics["eval_accuracy"] >= 0.9, metrics
    assert_hf_model_dir(tmp_path / "dpo")
    assert changed_tensors(tiny_policy_dir, tmp_path / "dpo")


def test_dpo_changes_parameters_after_one_step(tiny_policy_dir, synthetic_pair_files, tmp_path):
    train_file, _ = synthetic_pair_files
    config = DPOConfig(policy=str(tiny_policy_dir), train=train_file, output=str(tmp_path / "dpo1"),
                       lr=1e-3, max_steps=1, batch_size=4, max_length=128, device="cpu")
    train_dpo(config, read_pairs(train_file)[:8], None)
    assert any(name.startswith("model.layers") for name in changed_tensors(tiny_policy_dir, tmp_path / "dpo1"))

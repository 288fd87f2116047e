"""SFT and RLOO (TRL) change the tiny policy in one step; generation samples K responses per
prompt and estimates the KL to a reference."""
import torch

from training.configs import GenerateConfig, RLOOConfig, SFTConfig
from training.data import Demonstration, PromptRow
from training.generate import generate_responses
from training.rloo import train_rloo
from training.sft import train_sft

from .helpers import assert_hf_model_dir, changed_tensors

PROMPTS = [[{"role": "user", "content": "Tell me about cats."}], [{"role": "user", "content": "Who is Anna?"}]]


def test_sft_changes_parameters_and_lowers_the_loss(tiny_policy_dir, tmp_path):
    demos = [Demonstration(prompt=p, completion="Anna saw a fox near the river.") for p in PROMPTS] * 4
    config = SFTConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "sft"),
                       lr=1e-3, max_steps=4, batch_size=4, device="cpu")
    result = train_sft(config, demos)
    assert result.metrics["final_loss"] < result.metrics["first_loss"]
    assert_hf_model_dir(tmp_path / "sft")
    assert changed_tensors(tiny_policy_dir, tmp_path / "sft")


def test_sft_changes_parameters_after_one_step(tiny_policy_dir, tmp_path):
    demos = [Demonstration(prompt=p, completion="Anna saw a fox near the river.") for p in PROMPTS]
    config = SFTConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "sft1"),
                       lr=1e-3, max_steps=1, batch_size=2, device="cpu")
    assert train_sft(config, demos).metrics["steps"] == 1
    assert any(name.startswith("model.layers") for name in changed_tensors(tiny_policy_dir, tmp_path / "sft1"))


def test_rloo_changes_parameters_after_one_step(tiny_policy_dir, tmp_path):
    def reward(prompts, responses):  # a known reward that varies between samples: length
        return torch.tensor([len(str(r)) / 10.0 for r in responses])

    config = RLOOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                        output=str(tmp_path / "rloo"), steps=1, batch_size=4, num_generations=2, lr=1e-3,
                        max_new_tokens=12, device="cpu")
    result = train_rloo(config, PROMPTS, reward)
    assert result.metrics["steps"] == 1
    assert_hf_model_dir(tmp_path / "rloo")
    assert changed_tensors(tiny_policy_dir, tmp_path / "rloo")


def test_generate_samples_k_per_prompt_with_kl_to_a_reference(tiny_policy_dir, tmp_path):
    prompts = [PromptRow(prompt=p, id=i) for i, p in enumerate(PROMPTS)]
    config = GenerateConfig(policy=str(tiny_policy_dir), prompts=__file__, output=str(tmp_path / "out.jsonl"), n=3,
                            max_new_tokens=12, reference=str(tiny_policy_dir), model_name="tiny", device="cpu")
    rows = generate_responses(config, prompts)
    assert [row["id"] for row in rows] == [0, 0, 0, 1, 1, 1]
    assert {row["model"] for row in rows} == {"tiny"}
    assert len({row["response"] for row in rows}) > 1  # sampled, not greedy
    assert all(abs(row["kl"]) < 1e-4 for row in rows)  # the policy is its own reference

"""End-to-end PPO on the tiny policy against a known reward: the reward rises while the adaptive
controller keeps the KL under its target; with the penalty off the KL runs far past it."""
import pytest
import torch

from training.configs import PPOConfig
from training.ppo import train_ppo

ANIMALS = set("cat dog bird fish horse rabbit fox owl bear mouse goat duck frog whale tiger lion deer wolf".split())
PROMPTS = [[{"role": "user", "content": question}] for question in (
    "Tell me about music.", "Who is Anna?", "Describe the park.", "What should I eat at noon?",
    "Write a short story about Ben.", "Give me an idea for later.")]
TARGET_KL = 3.0


def animal_reward(prompts, responses):
    """A known reward model: 5 x the fraction of words that name an animal."""
    scores = []
    for response in responses:
        words = [word.strip(".,!?").lower() for word in response.split()]
        scores.append(5.0 * sum(word in ANIMALS for word in words) / max(1, len(words)))
    return torch.tensor(scores)


def run_ppo(policy_dir, output, kl_control: str, init_kl_coef: float) -> dict:
    # Tuned on this policy in fp32: lr 3e-4 moves it within 12 steps; horizon 64 lets beta adapt visibly.
    config = PPOConfig(policy=str(policy_dir), reward_model=str(policy_dir), prompts=__file__, output=str(output),
                       steps=12, batch_size=16, minibatch_size=8, ppo_epochs=2, lr=3e-4, max_new_tokens=16,
                       target_kl=TARGET_KL, init_kl_coef=init_kl_coef, kl_horizon=64, kl_control=kl_control,
                       device="cpu", seed=0, precision="fp32")
    return train_ppo(config, PROMPTS, animal_reward).metrics["history"]


def mean(values):
    return sum(values) / len(values)


@pytest.mark.slow
def test_ppo_raises_reward_with_kl_under_target_and_kl_grows_without_control(tiny_policy_dir, tmp_path):
    controlled = run_ppo(tiny_policy_dir, tmp_path / "adaptive", "adaptive", init_kl_coef=0.3)
    uncontrolled = run_ppo(tiny_policy_dir, tmp_path / "off", "fixed", init_kl_coef=0.0)

    assert mean(controlled["reward_mean"][-3:]) > mean(controlled["reward_mean"][:3]) + 0.05, controlled
    assert mean(controlled["kl"][-3:]) < TARGET_KL, controlled
    assert controlled["kl_coef"][-1] != controlled["kl_coef"][0]  # the controller moved beta
    assert mean(uncontrolled["kl"][-3:]) > TARGET_KL, uncontrolled
    assert mean(uncontrolled["kl"][-3:]) > mean(controlled["kl"][-3:])
    assert set(uncontrolled["kl_coef"]) == {0.0}


def test_ppo_changes_parameters_after_one_step(tiny_policy_dir, tmp_path):
    from safetensors.torch import load_file

    from .helpers import changed_tensors

    config = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                       output=str(tmp_path / "ppo"), steps=1, batch_size=4, minibatch_size=4, ppo_epochs=1, lr=1e-3,
                       max_new_tokens=8, device="cpu", precision="fp32")
    metrics = train_ppo(config, PROMPTS, animal_reward).metrics
    assert metrics["steps"] == 1 and metrics["kl"] == 0.0  # the first rollout comes from the reference itself
    assert any(name.startswith("model.layers") for name in changed_tensors(tiny_policy_dir, tmp_path / "ppo"))
    assert set(load_file(str(tmp_path / "ppo" / "value_head.safetensors"))) == {"weight", "bias"}


def test_max_kl_keeps_the_last_policy_within_budget_and_a_continued_run_measures_kl_to_the_given_reference(
        tiny_policy_dir, tmp_path):
    # Penalty off, so the KL grows until --max-kl stops the run.
    first = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                      output=str(tmp_path / "first"), steps=12, batch_size=16, minibatch_size=8, ppo_epochs=2,
                      lr=3e-4, max_new_tokens=16, init_kl_coef=0.0, kl_control="fixed", max_kl=1.0,
                      device="cpu", seed=0, precision="fp32")
    metrics = train_ppo(first, PROMPTS, animal_reward).metrics
    kls = metrics["history"]["kl"]
    assert metrics["stopped_at_kl_budget"] and metrics["steps"] == len(kls) < 12, metrics
    # the last rollout passed the budget; the policy kept is the one before it, within the budget
    assert kls[-1] > 1.0 and all(kl <= 1.0 for kl in kls[:-1]) and metrics["kl"] == round(kls[-2], 4), kls

    def first_rollout_kl(reference):
        config = PPOConfig(policy=str(tmp_path / "first"), reward_model=str(tiny_policy_dir), prompts=__file__,
                           output=str(tmp_path / "second"), steps=1, batch_size=16, minibatch_size=16,
                           ppo_epochs=1, lr=1e-6, max_new_tokens=16, reference=reference, device="cpu", seed=0,
                           precision="fp32")
        return train_ppo(config, PROMPTS, animal_reward).metrics["kl"]

    assert first_rollout_kl(None) == 0.0  # the starting policy is its own reference
    # The base policy as the reference: the kept policy's KL to it is about what the first run
    # measured for it (another sample of rollouts), well above 0 and not the over-budget one's.
    assert 0.2 < first_rollout_kl(str(tiny_policy_dir)) < kls[-1]


def test_a_kl_margin_lets_ppo_run_past_a_cap_its_batches_do_not_clearly_pass(tiny_policy_dir, tmp_path):
    def run(margin):
        config = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                           output=str(tmp_path / f"margin-{margin}"), steps=3, batch_size=8, minibatch_size=8,
                           ppo_epochs=1, lr=3e-4, max_new_tokens=8, init_kl_coef=0.0, kl_control="fixed",
                           max_kl=1e-9, max_kl_margin_se=margin, device="cpu", seed=0, precision="fp32")
        return train_ppo(config, PROMPTS, animal_reward).metrics

    strict, lenient = run(0.0), run(1e9)
    # once the policy has moved, a rollout's KL passes a cap of ~0: without a margin PPO stops there
    assert strict["stopped_at_kl_budget"] and strict["steps"] <= 3
    assert not lenient["stopped_at_kl_budget"] and lenient["steps"] == 3
    assert all(se > 0 for se in lenient["history"]["kl_se"][1:]), lenient["history"]["kl_se"]

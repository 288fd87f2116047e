"""PPO's pure functions against values computed by hand (the arithmetic is in the comments)."""
import math
import statistics

import pytest
import torch

from training.ppo import (
    AdaptiveKLController,
    FixedKLController,
    clipped_policy_loss,
    clipped_value_loss,
    gae,
    mean_standard_error,
    per_token_rewards,
    truncate_after_eos,
    whiten,
)


def test_gae_matches_hand_computation():
    # gamma 1, lambda 0.5, V = 0.5 everywhere, reward 1 on the last token:
    # t2: delta = 1 + 0 - 0.5 = 0.5 -> A2 = 0.5
    # t1: delta = 0 + 0.5 - 0.5 = 0 -> A1 = 0 + 0.5 * 0.5 = 0.25
    # t0: delta = 0               -> A0 = 0.5 * 0.25 = 0.125
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.5, 0.5]])
    advantages, returns = gae(rewards, values, torch.ones(1, 3), gamma=1.0, lam=0.5)
    assert torch.allclose(advantages, torch.tensor([[0.125, 0.25, 0.5]]))
    assert torch.allclose(returns, torch.tensor([[0.625, 0.75, 1.0]]))


def test_gae_ignores_everything_after_the_response_ends():
    # The third token is padding: its reward (99) and value must not leak backwards.
    # t1: delta = 1 + 0 - 0.5 = 0.5; t0: delta = 0 + 0.5 - 0.5 = 0 -> A0 = 0.5 * 0.5 = 0.25
    rewards = torch.tensor([[0.0, 1.0, 99.0]])
    values = torch.tensor([[0.5, 0.5, 7.0]])
    advantages, returns = gae(rewards, values, torch.tensor([[1.0, 1.0, 0.0]]), gamma=1.0, lam=0.5)
    assert torch.allclose(advantages, torch.tensor([[0.25, 0.5, 0.0]]))
    assert torch.allclose(returns, torch.tensor([[0.75, 1.0, 0.0]]))


def test_gae_with_discount():
    # gamma 0.5, lambda 1: A1 = 2 - 1 = 1; A0 = (0 + 0.5*1 - 1) + 0.5 * 1 = 0
    advantages, _ = gae(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 1.0]]), torch.ones(1, 2), gamma=0.5, lam=1.0)
    assert torch.allclose(advantages, torch.tensor([[0.0, 1.0]]))


def test_whiten_uses_only_masked_entries():
    # mean 2.5, unbiased variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]])
    std = math.sqrt(5 / 3)
    expected = torch.tensor([[-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std, 0.0]])
    assert torch.allclose(whiten(values, mask), expected, atol=1e-5)


def test_whiten_without_shifting_keeps_the_mean():
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    whitened = whiten(values, torch.ones(1, 4), shift_mean=False)
    assert whitened.mean().item() == pytest.approx(2.5, abs=1e-5)


def test_clipped_policy_loss_matches_hand_computation():
    # token 1: ratio 1.5, A=+1: max(-1.5, -1.2) = -1.2 (clipped term active)
    # token 2: ratio 0.5, A=+1: max(-0.5, -0.8) = -0.5 (unclipped)
    # token 3: ratio 0.5, A=-1: max(0.5, 0.8)   = 0.8  (clipped term active)
    # mean = (-1.2 - 0.5 + 0.8) / 3 = -0.3; clip fraction 2/3
    logprobs = torch.log(torch.tensor([[1.5, 0.5, 0.5]]))
    loss, clip_fraction = clipped_policy_loss(logprobs, torch.zeros(1, 3), torch.tensor([[1.0, 1.0, -1.0]]),
                                              torch.ones(1, 3), cliprange=0.2)
    assert loss.item() == pytest.approx(-0.3, abs=1e-6)
    assert clip_fraction.item() == pytest.approx(2 / 3)


def test_clipped_policy_loss_is_plain_policy_gradient_at_ratio_one():
    loss, clip_fraction = clipped_policy_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[2.0, -1.0]]),
                                              torch.ones(1, 2), cliprange=0.2)
    assert loss.item() == pytest.approx(-0.5)  # mean(-2, 1)
    assert clip_fraction.item() == 0.0


def test_clipped_value_loss_matches_hand_computation():
    # V=2, V_old=1, R=3, c=0.5: V_clipped = 1.5; errors (2-3)^2 = 1 and (1.5-3)^2 = 2.25 -> 0.5 * 2.25
    loss, clip_fraction = clipped_value_loss(torch.tensor([[2.0]]), torch.tensor([[1.0]]), torch.tensor([[3.0]]),
                                             torch.ones(1, 1), cliprange_value=0.5)
    assert loss.item() == pytest.approx(1.125)
    assert clip_fraction.item() == 1.0


def test_adaptive_kl_controller_update():
    # error = clip(KL/target - 1, -0.2, 0.2); beta *= 1 + error * n / horizon
    controller = AdaptiveKLController(0.2, target=6.0, horizon=10000)
    assert controller.update(12.0, 256) == pytest.approx(0.2 * (1 + 0.2 * 256 / 10000))  # error clipped at +0.2
    controller = AdaptiveKLController(0.2, target=6.0, horizon=10000)
    assert controller.update(6.6, 256) == pytest.approx(0.2 * (1 + 0.1 * 256 / 10000))
    controller = AdaptiveKLController(0.2, target=6.0, horizon=10000)
    assert controller.update(0.0, 256) == pytest.approx(0.2 * (1 - 0.2 * 256 / 10000))  # error clipped at -0.2


def test_fixed_kl_controller_never_moves():
    assert FixedKLController(0.3).update(100.0, 256) == 0.3


def test_per_token_rewards_spread_kl_and_put_the_score_on_the_last_token():
    # kl = [-1 - -1.5, -2 - -2, masked] = [0.5, 0, 0]; rewards = -0.5 * kl + score on token 2
    rewards, kl = per_token_rewards(torch.tensor([1.0]), torch.tensor([[-1.0, -2.0, -3.0]]),
                                    torch.tensor([[-1.5, -2.0, -2.0]]), torch.tensor([[1.0, 1.0, 0.0]]), kl_coef=0.5)
    assert torch.allclose(kl, torch.tensor([[0.5, 0.0, 0.0]]))
    assert torch.allclose(rewards, torch.tensor([[-0.25, 1.0, 0.0]]))


def test_truncate_after_eos():
    ids, mask, has_eos = truncate_after_eos(torch.tensor([[5, 2, 7, 8], [5, 6, 7, 8]]), eos_token_id=2, pad_token_id=0)
    assert ids.tolist() == [[5, 2, 0, 0], [5, 6, 7, 8]]
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert has_eos.tolist() == [True, False]


class _FakeEnsemble:
    """Three members whose mean is 1.0 on both responses; they agree on the first only."""

    members = [object(), object(), object()]

    def score(self, prompts, responses):
        return torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.5])


def test_the_conservative_reward_subtracts_the_ensembles_disagreement():
    from training.ppo import conservative_reward

    reward = conservative_reward(_FakeEnsemble(), penalty=2.0)
    assert reward(["p", "p"], ["agreed", "disputed"]).tolist() == [1.0, 0.0]
    plain = _FakeEnsemble()
    assert conservative_reward(plain, penalty=0.0) is plain


def test_the_standard_error_of_a_mean_from_its_sums():
    values = [4.0, 1.0, 9.5, 2.0, 7.25]
    expected = statistics.stdev(values) / math.sqrt(len(values))
    assert mean_standard_error(sum(values), sum(v * v for v in values), len(values)) == pytest.approx(expected)
    assert mean_standard_error(3.0, 9.0, 1) == 0.0  # one value: no spread to speak of

"""PPO for language models with a KL penalty to the reference policy, in one file.

TRL removed its PPO trainer (1.13, PR #7020), so the algorithm lives here. One iteration:

1. Rollout: sample a response for each prompt from the policy (stopping at EOS).
2. Score: decode to text and score with the reward model (which may use another tokenizer);
   responses that never emitted EOS lose `missing_eos_penalty`.
3. Per-token reward: r_t = -beta * (log pi(a_t) - log pi_ref(a_t)), plus the score on the last token.
4. Advantages: GAE(gamma, lambda) over the value head's estimates, then whitened.
5. Optimise: a few epochs of clipped policy loss + vf_coef * clipped value loss over minibatches.
6. Adapt beta toward the target KL (Ziegler et al. 2019), unless the coefficient is fixed.
7. With `max_kl`, stop at the first rollout whose KL passes it and keep the last policy whose
   rollout stayed within it: the adaptive controller moves beta only a little per step, so on its
   own it can overshoot a budget, and one update can jump far past it. The per-response KL is
   widely spread (on SmolLM2 an SD of 3-4 nats at a mean of 5), so one batch's mean is noisy;
   `max_kl_margin_se` stops only when the mean is over the cap by that many standard errors.

Under several processes (`accelerate launch`, see training/README.md) each rank rolls out its own
share of the prompts (`batch_size` and `minibatch_size` count rollouts over all ranks), DDP
averages the gradients, and the statistics that steer training (the KL fed to the controller, the
max_kl decision) and the logged metrics are reduced over all ranks, so every rank takes the same
decisions and keeps identical parameters. Advantages are whitened per rank.

The reference is the starting policy unless another is given: when a loop continues from an
earlier PPO policy, the KL is still measured to the SFT/base policy, as in InstructGPT, so the
budget holds across iterations instead of restarting at each one. With LoRA (`--lora-r`) the
reference is the same network with its adapters disabled: one copy of the weights in memory, and
the value head sits on the shared backbone.

Shapes: B = batch of rollouts, T = response tokens (padded), P = prompt tokens (left-padded),
V = vocabulary. `mask` is (B, T) with 1 on response tokens up to and including EOS.
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from training import distributed
from training.configs import PPOConfig
from training.errors import TrainingUserError
from training.progress import ProgressCallback

VALUE_HEAD_FILE = "value_head.safetensors"

# reward_fn(prompts, responses) -> (B,) float tensor. Prompts are text or message lists.
RewardFunction = Callable[[list, list], torch.Tensor]


# ============================================================================ pure math
def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim=None) -> torch.Tensor:
    """Mean of `values` where `mask` is 1. values, mask: same shape; dim None means all elements."""
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(values: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of `values` where `mask` is 1 (Bessel-corrected when `unbiased`)."""
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    if unbiased:
        count = mask.sum()
        if count > 1:
            variance = variance * count / (count - 1)
    return variance


def whiten(values: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Normalise `values` to unit variance (and zero mean if `shift_mean`) over the masked entries.

    values, mask: (B, T). Masked-out entries come back as 0.
    """
    mean, variance = masked_mean(values, mask), masked_var(values, mask)
    whitened = (values - mean) * torch.rsqrt(variance + eps)
    if not shift_mean:
        whitened = whitened + mean
    return whitened * mask


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float):
    """Generalised advantage estimation.

    rewards, values, mask: (B, T). delta_t = r_t + gamma * V_{t+1} - V_t (V after the last
    response token is 0); A_t = delta_t + gamma * lam * A_{t+1}.
    Returns (advantages, returns), both (B, T), zero where mask is 0; returns = advantages + values.
    """
    batch, length = rewards.shape
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros(batch, dtype=rewards.dtype, device=rewards.device)
    next_value = torch.zeros(batch, dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(length)):
        live = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantage = delta + gamma * lam * next_advantage
        advantages[:, t] = advantage * live
        # beyond the end of a response there is nothing to bootstrap from
        next_value = values[:, t] * live
        next_advantage = advantages[:, t]
    returns = (advantages + values) * mask
    return advantages, returns


def mean_standard_error(total: float, squares: float, count: float) -> float:
    """The standard error of a mean from the sum and the sum of squares of `count` values."""
    if count < 2:
        return 0.0
    variance = max(squares - total * total / count, 0.0) / (count - 1)
    return math.sqrt(variance / count)


def per_token_rewards(scores, logprobs, ref_logprobs, mask, kl_coef: float):
    """Rewards with the KL penalty spread over tokens and the score on each response's last token.

    scores: (B,); logprobs, ref_logprobs, mask: (B, T). Returns (rewards (B, T), kl (B, T)) where
    kl_t = log pi(a_t) - log pi_ref(a_t), the per-token sample estimate of KL(pi || pi_ref).
    """
    kl = (logprobs - ref_logprobs) * mask
    rewards = -kl_coef * kl
    last = (mask.sum(dim=1).long() - 1).clamp(min=0)
    rewards[torch.arange(len(scores)), last] += scores
    return rewards * mask, kl


def clipped_policy_loss(logprobs, old_logprobs, advantages, mask, cliprange: float):
    """PPO's clipped surrogate: mean over tokens of max(-A * ratio, -A * clip(ratio, 1 - c, 1 + c)).

    logprobs, old_logprobs, advantages, mask: (B, T). Returns (loss scalar, clip fraction scalar),
    the fraction of tokens where the clipped term was the larger (active) one.
    """
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - cliprange, 1.0 + cliprange)
    loss = masked_mean(torch.max(unclipped, clipped), mask)
    clip_fraction = masked_mean((clipped > unclipped).float(), mask)
    return loss, clip_fraction


def clipped_value_loss(values, old_values, returns, mask, cliprange_value: float):
    """0.5 * mean over tokens of max((V - R)^2, (V_clipped - R)^2), V_clipped = V_old + clip(V - V_old, +-c).

    values, old_values, returns, mask: (B, T). Returns (loss scalar, clip fraction scalar).
    """
    clipped_values = old_values + torch.clamp(values - old_values, -cliprange_value, cliprange_value)
    unclipped_error = (values - returns) ** 2
    clipped_error = (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(unclipped_error, clipped_error), mask)
    clip_fraction = masked_mean((clipped_error > unclipped_error).float(), mask)
    return loss, clip_fraction


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each categorical distribution. logits: (B, T, V) -> (B, T)."""
    log_probabilities = F.log_softmax(logits, dim=-1)
    return -(log_probabilities.exp() * log_probabilities).sum(dim=-1)


def logprobs_from_logits(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) under each distribution. logits: (B, T, V), tokens: (B, T) -> (B, T)."""
    return torch.gather(F.log_softmax(logits, dim=-1), 2, tokens.unsqueeze(-1)).squeeze(-1)


def truncate_after_eos(response_ids: torch.Tensor, eos_token_id, pad_token_id: int):
    """Cut each response after its first EOS.

    response_ids: (B, T) as generated; eos_token_id: one id or a list of them (a chat model's
    <|im_end|> and <|endoftext|>). Returns (ids with pad after EOS, mask (B, T) float with 1 up
    to and including EOS, has_eos (B,) bool).
    """
    eos_ids = torch.as_tensor(eos_token_id if isinstance(eos_token_id, (list, tuple)) else [eos_token_id],
                              device=response_ids.device)
    is_eos = torch.isin(response_ids, eos_ids)
    has_eos = is_eos.any(dim=1)
    length = response_ids.shape[1]
    first_eos = torch.where(has_eos, is_eos.float().argmax(dim=1), torch.full_like(has_eos, length, dtype=torch.long))
    positions = torch.arange(length, device=response_ids.device).unsqueeze(0)
    mask = (positions <= first_eos.unsqueeze(1)).float()
    ids = torch.where(mask.bool(), response_ids, torch.full_like(response_ids, pad_token_id))
    return ids, mask, has_eos


class AdaptiveKLController:
    """Adaptive KL coefficient (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences").

    After each batch: error = clip(KL / target - 1, -0.2, 0.2); beta <- beta * (1 + error * n_steps / horizon).
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int):
        self.value = init_kl_coef
        self.target = target
        self.horizon = horizon

    def update(self, current_kl: float, n_steps: int) -> float:
        """current_kl: observed mean KL per response (nats); n_steps: rollouts in the batch. Returns beta."""
        proportional_error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + proportional_error * n_steps / self.horizon
        return self.value


class FixedKLController:
    """A constant KL coefficient (the "fixed" option; 0 turns the penalty off)."""

    def __init__(self, kl_coef: float):
        self.value = kl_coef

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value


# ============================================================================ model
class PolicyWithValueHead(nn.Module):
    """A causal LM plus a scalar value head on its last hidden state (the critic shares the backbone)."""

    def __init__(self, policy):
        super().__init__()
        self.policy = policy
        hidden = policy.config.get_text_config().hidden_size
        self.value_head = nn.Linear(hidden, 1)
        nn.init.normal_(self.value_head.weight, std=1.0 / (hidden + 1) ** 0.5 * 0.1)
        nn.init.zeros_(self.value_head.bias)

    def forward(self, input_ids, attention_mask):
        """input_ids, attention_mask: (B, L) -> logits (B, L, V), values (B, L)."""
        position_ids = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)  # left padding shifts positions
        output = self.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             output_hidden_states=True, use_cache=False)
        values = self.value_head(output.hidden_states[-1]).squeeze(-1)
        # under bf16 autocast: advantages, losses and log-softmax stay in fp32
        return output.logits.float(), values.float()


def _response_logits(logits: torch.Tensor, prompt_length: int, temperature: float) -> torch.Tensor:
    """Logits that predicted the response tokens: positions P-1 .. L-2, scaled like sampling was."""
    return logits[:, prompt_length - 1 : -1, :] / temperature


# ============================================================================ training loop
@dataclass(frozen=True)
class PPOResult:
    output_dir: Path
    metrics: dict


@dataclass
class Rollout:
    """One batch of experience. prompt_ids/prompt_mask: (B, P); response_ids/mask: (B, T); the rest (B, T) or (B,)."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    response_ids: torch.Tensor
    mask: torch.Tensor
    has_eos: torch.Tensor
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    scores: torch.Tensor
    raw_scores: torch.Tensor
    entropy: torch.Tensor


class PPOTrainer:
    """Runs the loop described in the module docstring; `train()` returns the final metrics."""

    def __init__(self, config: PPOConfig, policy, tokenizer, reward_fn: RewardFunction, prompts: list, device,
                 reference=None, *, precision: str = "fp32", lora_config=None, gradient_checkpointing: bool = False):
        """`lora_config` (peft) wraps the policy in adapters; without a `reference` the adapters-off
        network is then the reference. `precision` "bf16" runs forward passes and generation under
        bf16 autocast (fp32 master weights)."""
        from training.lora import wrap
        from training.runtime import generation_eos_ids

        self.config = config
        self.device = device
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.prompts = prompts
        self.precision = precision
        processes, rank = distributed.world_size(), distributed.rank()
        if config.batch_size % processes or config.minibatch_size % processes:
            raise TrainingUserError(f"--batch-size {config.batch_size} and --minibatch-size {config.minibatch_size} "
                                    f"must be multiples of the number of processes ({processes})")
        self.local_batch_size = config.batch_size // processes
        self.local_minibatch_size = config.minibatch_size // processes
        self.prompt_indices = distributed.shard_indices(len(prompts))  # this rank's share of the prompts
        if not self.prompt_indices:
            raise TrainingUserError(f"{len(prompts)} prompts cannot be shared among {processes} processes")
        self.seen_prompt_indices: list[int] = []
        self.local_history: list[dict] = []  # this rank's sums behind the reduced statistics
        self.eos_token_ids = generation_eos_ids(policy, tokenizer)
        if reference is None and lora_config is None:
            reference = copy.deepcopy(policy)
        if lora_config is not None:
            policy = wrap(policy, lora_config)
        if gradient_checkpointing:
            # non-reentrant: works with frozen inputs (LoRA) and with DDP's gradient hooks
            policy.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.model = PolicyWithValueHead(policy).to(device)
        # The update goes through DDP (which also broadcasts rank 0's fresh value head); rollouts
        # use the bare model: generation, no-grad forwards and the adapters-off reference need no
        # gradient synchronisation.
        self.training_model = self._data_parallel(self.model) if processes > 1 else self.model
        self.reference = reference.to(device).eval() if reference is not None else None
        for parameter in (self.reference.parameters() if self.reference is not None else ()):
            parameter.requires_grad_(False)
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=config.lr, eps=1e-5)
        if config.kl_control == "adaptive":
            self.kl_controller = AdaptiveKLController(config.init_kl_coef, config.target_kl, config.kl_horizon)
        else:
            self.kl_controller = FixedKLController(config.init_kl_coef)
        self.generator = torch.Generator().manual_seed(config.seed + rank)
        if processes > 1:
            torch.manual_seed(config.seed + rank)  # ranks sample different responses
        from training.data import prompt_text

        self.prompt_texts = [prompt_text(p, tokenizer) for p in prompts]
        # prompts longer than the budget lose their beginning in rollouts (left truncation)
        self.truncated_prompts = sum(len(ids) > config.max_prompt_length for ids in
                                     tokenizer(self.prompt_texts, add_special_tokens=False)["input_ids"])

    def autocast(self):
        """bf16 autocast for the forward passes and generation when the precision says so."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def reference_logits(self, input_ids, attention_mask, position_ids) -> torch.Tensor:
        """Logits of the reference policy (fp32, like the policy's): a separate network, or this one
        with its adapters off."""
        if self.reference is not None:
            return self.reference(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                  use_cache=False).logits.float()
        with self.model.policy.disable_adapter():
            return self.model.policy(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                     use_cache=False).logits.float()

    @contextlib.contextmanager
    def adapters_merged(self):
        """LoRA adapters folded into the weights while sampling. Token by token, unmerged adapters add
        two small matmuls to every adapted layer for every token: on SmolLM2 on CPU that halved
        sampling speed (3.4 vs 7.5 tokens/s merged, 4 prompts x 16 tokens, 2026-12-02). Folding them in
        and out costs one weight update each; log-probabilities are computed afterwards on the
        unmerged network, as training sees it. Without adapters: nothing to do."""
        if self.reference is not None:
            yield
            return
        self.model.policy.merge_adapter()
        try:
            yield
        finally:
            self.model.policy.unmerge_adapter()

    def _data_parallel(self, model):
        from torch.nn.parallel import DistributedDataParallel

        distributed.setup(self.device.type)
        if self.device.type == "cuda":
            index = self.device.index if self.device.index is not None else torch.cuda.current_device()
            return DistributedDataParallel(model, device_ids=[index])
        return DistributedDataParallel(model)

    # ---------------------------------------------------------------- rollout
    def _sample_prompt_batch(self) -> list[int]:
        """This rank's prompts for one rollout: `batch_size / processes` draws from its share."""
        positions = torch.randint(0, len(self.prompt_indices), (self.local_batch_size,), generator=self.generator).tolist()
        indices = [self.prompt_indices[p] for p in positions]
        self.seen_prompt_indices.extend(indices)
        return indices

    @torch.no_grad()
    def rollout(self) -> Rollout:
        config, tokenizer = self.config, self.tokenizer
        indices = self._sample_prompt_batch()
        tokenizer.padding_side, tokenizer.truncation_side = "left", "left"
        encoded = tokenizer([self.prompt_texts[i] for i in indices], return_tensors="pt", padding=True,
                            truncation=True, max_length=config.max_prompt_length, add_special_tokens=False)
        prompt_ids, prompt_mask = encoded["input_ids"].to(self.device), encoded["attention_mask"].to(self.device)
        self.model.eval()
        with self.adapters_merged():
            generated = self.model.policy.generate(
                input_ids=prompt_ids, attention_mask=prompt_mask, do_sample=True, temperature=config.temperature,
                top_p=config.top_p, top_k=0, max_new_tokens=config.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=self.eos_token_ids,
            )
        response_ids, mask, has_eos = truncate_after_eos(
            generated[:, prompt_ids.shape[1]:], self.eos_token_ids, tokenizer.pad_token_id)
        sequence = torch.cat([prompt_ids, response_ids], dim=1)
        attention = torch.cat([prompt_mask, mask.long()], dim=1)
        logits, values = self.model(sequence, attention)
        response_logits = _response_logits(logits, prompt_ids.shape[1], config.temperature)
        logprobs = logprobs_from_logits(response_logits, response_ids)
        entropy = entropy_from_logits(response_logits)
        values = values[:, prompt_ids.shape[1] - 1 : -1]
        position_ids = (attention.cumsum(dim=1) - 1).clamp(min=0)
        ref_logits = self.reference_logits(sequence, attention, position_ids)
        ref_logprobs = logprobs_from_logits(_response_logits(ref_logits, prompt_ids.shape[1], config.temperature), response_ids)

        # The reward model may use another tokenizer: hand it text, it re-tokenizes.
        responses = tokenizer.batch_decode(response_ids, skip_special_tokens=True)
        raw_scores = self.reward_fn([self.prompts[i] for i in indices], responses).float().to(self.device)
        scores = raw_scores - config.missing_eos_penalty * (~has_eos).float()
        return Rollout(prompt_ids, prompt_mask, response_ids, mask, has_eos, logprobs * mask,
                       ref_logprobs * mask, values * mask, scores, raw_scores, entropy)

    # ---------------------------------------------------------------- optimisation
    def optimise(self, rollout: Rollout, advantages, returns) -> dict:
        config = self.config
        self.model.train()
        stats = {"policy_loss": [], "value_loss": [], "clip_fraction": [], "value_clip_fraction": [], "approx_kl": []}
        batch = rollout.response_ids.shape[0]
        prompt_length = rollout.prompt_ids.shape[1]
        for _ in range(config.ppo_epochs):
            order = torch.randperm(batch, generator=self.generator)
            for start in range(0, batch, self.local_minibatch_size):
                index = order[start : start + self.local_minibatch_size].to(self.device)
                mask = rollout.mask[index]
                sequence = torch.cat([rollout.prompt_ids[index], rollout.response_ids[index]], dim=1)
                attention = torch.cat([rollout.prompt_mask[index], mask.long()], dim=1)
                logits, values = self.training_model(sequence, attention)  # DDP averages the gradients
                logprobs = logprobs_from_logits(_response_logits(logits, prompt_length, config.temperature),
                                                rollout.response_ids[index])
                values = values[:, prompt_length - 1 : -1]
                policy_loss, clip_fraction = clipped_policy_loss(
                    logprobs, rollout.logprobs[index], advantages[index], mask, config.cliprange)
                value_loss, value_clip_fraction = clipped_value_loss(
                    values, rollout.values[index], returns[index], mask, config.cliprange_value)
                loss = policy_loss + config.vf_coef * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                self.optimizer.step()
                with torch.no_grad():
                    approx_kl = 0.5 * masked_mean((logprobs - rollout.logprobs[index]) ** 2, mask)
                for key, value in (("policy_loss", policy_loss), ("value_loss", value_loss), ("clip_fraction", clip_fraction),
                                   ("value_clip_fraction", value_clip_fraction), ("approx_kl", approx_kl)):
                    stats[key].append(value.item())
        # every rank ran as many minibatches: the mean over ranks is the mean over all of them
        keys = list(stats)
        return dict(zip(keys, distributed.all_reduce_mean([sum(stats[k]) / len(stats[k]) for k in keys])))

    def step(self) -> dict:
        """One PPO iteration: rollout, advantages, optimisation, KL-controller update."""
        config = self.config
        rollout = self.rollout()
        kl_coef = self.kl_controller.value
        rewards, kl = per_token_rewards(rollout.scores, rollout.logprobs, rollout.ref_logprobs, rollout.mask, kl_coef)
        if config.whiten_rewards:
            rewards = whiten(rewards, rollout.mask, shift_mean=False)
        advantages, returns = gae(rewards, rollout.values, rollout.mask, config.gamma, config.lam)
        advantages = whiten(advantages, rollout.mask)
        optimisation = self.optimise(rollout, advantages, returns)
        # Sums over this rank's rollouts, then over all ranks: every rank gets the same statistics,
        # so the KL controller (and max_kl) decide identically everywhere.
        local = {
            "rollouts": float(rollout.response_ids.shape[0]),
            "raw_score_sum": rollout.raw_scores.sum().item(),
            "score_sum": rollout.scores.sum().item(),
            "kl_sum": kl.sum().item(),
            "kl_squares_sum": (kl.sum(dim=1) ** 2).sum().item(),  # for the batch mean's standard error
            "entropy_sum": (rollout.entropy * rollout.mask).sum().item(),
            "tokens": rollout.mask.sum().item(),
            "eos_count": rollout.has_eos.float().sum().item(),
        }
        self.local_history.append(local)
        total = dict(zip(local, distributed.all_reduce_sum(list(local.values()))))
        sequence_kl = total["kl_sum"] / total["rollouts"]
        self.kl_controller.update(sequence_kl, config.batch_size)
        return {
            "reward_mean": total["raw_score_sum"] / total["rollouts"],
            "score_mean": total["score_sum"] / total["rollouts"],  # after the missing-EOS penalty
            "kl": sequence_kl,
            "kl_se": mean_standard_error(total["kl_sum"], total["kl_squares_sum"], total["rollouts"]),
            "kl_coef": kl_coef,
            "entropy": total["entropy_sum"] / max(total["tokens"], 1.0),
            "response_length": total["tokens"] / total["rollouts"],
            "eos_fraction": total["eos_count"] / total["rollouts"],
            **optimisation,
        }

    def train(self, on_progress: ProgressCallback | None = None) -> list[dict]:
        """Runs the steps; with `max_kl`, ends on the last policy whose rollout KL was within it
        (within its margin of error, with `max_kl_margin_se`)."""
        history = []
        self.stopped_at_kl_budget = False
        within_budget = None  # parameters of the last policy whose rollout KL was <= max_kl
        for step in range(1, self.config.steps + 1):
            started = time.monotonic()
            before = self._parameters() if self.config.max_kl else None
            with self.autocast():
                stats = self.step()  # a rollout of the policy `before`, then an update
            stats["seconds"] = time.monotonic() - started
            history.append(stats)
            if on_progress:
                on_progress(step, self.config.steps, stats)
            if self.config.max_kl:
                if stats["kl"] - self.config.max_kl_margin_se * stats["kl_se"] > self.config.max_kl:
                    # Over the budget: back to the last policy within it (the start, if none was).
                    self.model.load_state_dict(within_budget or before)
                    self.stopped_at_kl_budget = True
                    break
                within_budget = before
        return history

    def _parameters(self) -> dict:
        return {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}

    def save(self, output_dir: Path, *, adapter_only: bool = False, base_reference: str | None = None) -> None:
        """The policy (adapters merged unless `adapter_only`), its tokenizer and the value head."""
        from safetensors.torch import save_file

        from training.lora import save_model

        output_dir.mkdir(parents=True, exist_ok=True)
        save_model(self.model.policy, self.tokenizer, output_dir, adapter_only=adapter_only, base_reference=base_reference)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.value_head.state_dict().items()},
                  str(output_dir / VALUE_HEAD_FILE))


def train_ppo(config: PPOConfig, prompts: list, reward_fn: RewardFunction,
              on_progress: ProgressCallback | None = None) -> PPOResult:
    """Optimise `config.policy` against `reward_fn` on `prompts` and save it to `config.output`.

    metrics.json holds the final `kl` and `reward_mean` plus per-step histories.
    """
    from training.runtime import load_causal_lm, load_tokenizer, prepare_training, save_run_metadata

    started = time.monotonic()
    setup = prepare_training(config, config.policy)
    device, tokenizer = setup.device, setup.tokenizer
    if tokenizer.eos_token_id is None:
        raise TrainingUserError(f"--policy {config.policy}: the tokenizer has no EOS token to end responses with")
    reference = None
    if config.reference is not None:
        if load_tokenizer(config.reference, config.models_dir).get_vocab() != tokenizer.get_vocab():
            raise TrainingUserError(f"--reference {config.reference}: its tokenizer differs from the policy's; "
                                    "the per-token KL needs the same vocabulary")
        reference = load_causal_lm(config.reference, device, config.models_dir)
    trainer = PPOTrainer(config, setup.model, tokenizer, reward_fn, prompts, device, reference=reference,
                         precision=setup.precision, lora_config=setup.lora_config,
                         gradient_checkpointing=setup.gradient_checkpointing)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    history = trainer.train(on_progress)
    output_dir = Path(config.output)
    distributed.write_rank_debug("ppo", {"checksum": distributed.parameter_checksum(trainer.model),
                                         "prompt_indices": trainer.seen_prompt_indices,
                                         "local_history": trainer.local_history,
                                         "wrote_output": distributed.is_main_process()})
    if distributed.is_main_process():  # every rank holds the same weights (DDP)
        trainer.save(output_dir, adapter_only=config.save_adapter_only, base_reference=config.policy)
    # Stopped at the budget: the policy kept is the one that made the rollout before the last.
    last = history[-2] if trainer.stopped_at_kl_budget and len(history) > 1 else history[-1]
    rollouts = len(history) * config.batch_size
    seconds = sum(h["seconds"] for h in history)
    metrics = {
        "reward_mean": round(last["reward_mean"], 4),
        "kl": round(last["kl"], 4),
        "kl_coef": round(trainer.kl_controller.value, 5),
        "entropy": round(last["entropy"], 4),
        "response_length": round(last["response_length"], 2),
        "eos_fraction": round(last["eos_fraction"], 3),
        "steps": len(history),
        "stopped_at_kl_budget": trainer.stopped_at_kl_budget,  # --max-kl reached
        "updates_per_second": round(len(history) / seconds, 3),
        "generated_tokens_per_second": round(sum(h["response_length"] for h in history) * config.batch_size / seconds, 1),
        "rollouts": rollouts,
        "truncated_prompts": trainer.truncated_prompts,
        "trainable_parameters": trainable,
        "precision": setup.precision,
        "seconds": round(time.monotonic() - started, 1),
        "history": {key: [round(h[key], 5) for h in history]
                    for key in ("reward_mean", "kl", "kl_se", "kl_coef", "entropy", "response_length", "value_loss", "clip_fraction")},
    }
    save_run_metadata(output_dir, "ppo", config, metrics, setup.resolved())
    return PPOResult(output_dir=output_dir, metrics=metrics)


def conservative_reward(scorer, penalty: float) -> RewardFunction:
    """The ensemble's mean reward minus `penalty` standard deviations of its members.

    Where the members disagree the policy has usually wandered off the labelled data, which is
    where a proxy reward is least trustworthy; optimising the lower estimate keeps PPO from
    chasing those scores (Coste et al. 2023, "Reward Model Ensembles Help Mitigate
    Overoptimization"). With penalty 0 it is the plain mean."""
    if not penalty:
        return scorer

    def reward(prompts, responses):
        mean, std = scorer.score(prompts, responses)
        return mean - penalty * std

    return reward


def train_ppo_from_files(config: PPOConfig, on_progress=None) -> PPOResult:
    """CLI glue: read the prompts, load the reward model as the reward function, train."""
    from training.data import read_prompts
    from training.reward import RewardScorer
    from training.runtime import resolve_device

    prompts = [row.prompt for row in read_prompts(config.prompts)]
    scorer = RewardScorer.load(config.reward_model, resolve_device(config.device), config.models_dir)
    if config.uncertainty_penalty and len(scorer.members) < 2:
        raise TrainingUserError(f"--uncertainty-penalty needs a reward-model ensemble; {config.reward_model} has one model")
    result = train_ppo(config, prompts, conservative_reward(scorer, config.uncertainty_penalty), on_progress)
    metrics = {k: v for k, v in result.metrics.items() if k != "history"}  # the stdout line stays short
    return PPOResult(result.output_dir, metrics)

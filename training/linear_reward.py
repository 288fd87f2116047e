"""A Bradley-Terry reward model that is linear in frozen embedding features (numpy only).

r(prompt, response) = w . phi(prompt, response), with phi = [e(response), e(prompt) . e(response)]
(e: a frozen, L2-normalised sentence embedding, see `training.embedding`; the cosine lets a linear
head score how well a response fits its prompt: on the demo corpus it raised accuracy at 400 noisy
labels from 0.72 to 0.76, where the full elementwise product e(prompt) * e(response) added nothing). P(first preferred) = sigmoid(r_first - r_second).
Fitting is L2-regularised logistic regression on feature differences, solved by Newton's method:
milliseconds for a few hundred pairs, so an active-learning loop can refit after every batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


def reward_features(prompt_embeddings: np.ndarray, response_embeddings: np.ndarray) -> np.ndarray:
    """phi(prompt, response). prompt_embeddings, response_embeddings: (n, H) -> (n, H + 1)."""
    relevance = np.sum(prompt_embeddings * response_embeddings, axis=1, keepdims=True)
    return np.concatenate([response_embeddings, relevance], axis=1)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


@dataclass(frozen=True)
class LinearRewardHead:
    """A fitted head. weights: (F,)."""

    weights: np.ndarray

    def rewards(self, features: np.ndarray) -> np.ndarray:
        """features: (n, F) -> rewards (n,)."""
        return features @ self.weights

    def preference_probability(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """P(first preferred) for each pair. first, second: (n, F) -> (n,)."""
        return sigmoid(self.rewards(first) - self.rewards(second))


def fit_bradley_terry_head(first: np.ndarray, second: np.ndarray, first_preferred: np.ndarray, *, l2: float,
                           sample_weight: np.ndarray | None = None, max_iterations: int = 30,
                           tolerance: float = 1e-6, initial_weights: np.ndarray | None = None) -> LinearRewardHead:
    """Minimises sum_i weight_i * BT-loss_i + l2/2 * |w|^2 by Newton's method.

    first, second: (n, F) features of the two responses; first_preferred: (n,) 0/1 (or soft
    labels in [0, 1]); sample_weight: (n,) non-negative (e.g. bootstrap counts), default ones.
    The loss is convex, so Newton converges from zero in a handful of steps; `initial_weights` (a
    nearby solution, e.g. the previous fit of a refit loop) saves a few of them.
    """
    if l2 <= 0:
        raise ValueError("l2 must be positive")
    differences = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    labels = np.asarray(first_preferred, dtype=np.float64)
    weight = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    keep = weight > 0  # zero-weight rows (left out of a bootstrap sample) would only add round-off
    differences, labels, weight = differences[keep], labels[keep], weight[keep]
    n, n_features = differences.shape
    w = np.zeros(n_features) if initial_weights is None else np.array(initial_weights, dtype=np.float64)

    def objective(weights):
        z = differences @ weights
        return float(weight @ (np.logaddexp(0.0, z) - labels * z) + 0.5 * l2 * weights @ weights)

    current = objective(w)
    for _ in range(max_iterations):
        p = sigmoid(differences @ w)
        gradient = differences.T @ (weight * (p - labels)) + l2 * w
        curvature = weight * p * (1.0 - p)
        if n < n_features:
            # Woodbury: (l2 I + D^T C D)^-1 g costs an n x n solve instead of F x F.
            inner = np.diag(1.0 / np.maximum(curvature, 1e-12)) + differences @ differences.T / l2
            step = gradient / l2 - differences.T @ np.linalg.solve(inner, differences @ gradient) / l2 ** 2
        else:
            hessian = differences.T @ (differences * curvature[:, None]) + l2 * np.eye(n_features)
            step = np.linalg.solve(hessian, gradient)
        # Halve the step while it would raise the loss: a full Newton step can overshoot far from
        # the optimum (e.g. from a warm start that saturates many sigmoids).
        scale, candidate = 1.0, objective(w - step)
        while candidate > current and scale > 1e-6:
            scale /= 2
            candidate = objective(w - scale * step)
        w, current = w - scale * step, candidate
        if np.max(np.abs(scale * step)) < tolerance:
            break
    return LinearRewardHead(weights=w)


def pairwise_accuracy(head: LinearRewardHead, chosen: np.ndarray, rejected: np.ndarray) -> float:
    """Share of pairs where the chosen response gets the higher reward (ties count half)."""
    margin = head.rewards(chosen) - head.rewards(rejected)
    return float(np.mean(np.where(margin > 0, 1.0, np.where(margin == 0, 0.5, 0.0))))


class ReliabilityFit(NamedTuple):
    head: LinearRewardHead
    reliability: dict  # {annotator: q_a}, the learned chance that their judgement is real
    judgement_weights: np.ndarray  # (n,) each judgement's chance of being real, as the head was fitted with


def fit_with_annotator_reliability(first: np.ndarray, second: np.ndarray, first_preferred: np.ndarray,
                                   annotators: np.ndarray, *, l2: float, rounds: int = 4,
                                   prior_reliable: float = 4.0, prior_unreliable: float = 1.0,
                                   initial_weights: np.ndarray | None = None) -> ReliabilityFit:
    """A Bradley-Terry head that learns, with it, how far to trust each annotator (EM).

    Each judgement comes either from the annotator's real preference, P(first) = sigmoid(r1 - r2),
    or - with probability 1 - q_a - from a habit that ignores the responses: choosing the first
    shown at the annotator's own overall first-preferred rate (random spammers ~0.5, always-left
    1.0). E-step: the chance each judgement is real; M-step: refit the head with those chances as
    weights, and set q_a to its annotator's mean chance under a Beta(prior_reliable,
    prior_unreliable) prior (with few judgements per annotator, everyone starts out trusted).
    `initial_weights` starts the first fit there (a refit loop's previous head).
    """
    labels = np.asarray(first_preferred, dtype=np.float64)
    annotators = np.asarray(annotators)
    names, index = np.unique(annotators, return_inverse=True)
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    first_rate = (np.bincount(index, weights=labels, minlength=len(names)) + 1.0) / (counts + 2.0)
    habit = np.where(labels == 1, first_rate[index], 1.0 - first_rate[index])
    reliability = np.full(len(names), prior_reliable / (prior_reliable + prior_unreliable))
    head = fit_bradley_terry_head(first, second, labels, l2=l2, initial_weights=initial_weights)
    weight = np.ones(len(labels))
    for _ in range(rounds):
        p = head.preference_probability(first, second)
        real = np.where(labels == 1, p, 1.0 - p)
        q = reliability[index]
        weight = q * real / (q * real + (1.0 - q) * habit)
        reliability = ((np.bincount(index, weights=weight, minlength=len(names)) + prior_reliable - 1.0)
                       / (counts + prior_reliable + prior_unreliable - 2.0))
        head = fit_bradley_terry_head(first, second, labels, l2=l2, sample_weight=weight, initial_weights=head.weights)
    return ReliabilityFit(head, dict(zip(names.tolist(), reliability.tolist())), weight)

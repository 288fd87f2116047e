"""Acquisition scores for active pair selection: which unlabelled pairs a Bradley-Terry linear head
(`training.linear_reward`) should have labelled next. Pure numpy; `simulation.experiments.active_selection`
compares them against random selection.

Arguments shared by the posterior-based scores: `pool_differences` (n, F) holds each pool pair's
feature difference d = phi(first) - phi(second); `labelled` and `candidates` index into it; each
returns the chosen candidates, in the order chosen.
"""
from __future__ import annotations

import numpy as np

from training.linear_reward import sigmoid


def least_certain(probabilities: np.ndarray, candidates: list[int], k: int) -> list[int]:
    """The k candidates whose P(first preferred) is nearest 0.5 (ties: earlier candidate first)."""
    margins = np.abs(probabilities[candidates] - 0.5)
    return [candidates[i] for i in np.argsort(margins, kind="stable")[:k]]


def least_certain_per_group(probabilities: np.ndarray, candidates: list[int], k: int, groups) -> list[int]:
    """Like `least_certain`, but at most one candidate per group (prompt) until every group has one."""
    ranked = least_certain(probabilities, candidates, len(candidates))
    batch, used = [], set()
    for index in ranked:
        if len(batch) == k:
            return batch
        if groups[index] not in used:
            batch.append(index)
            used.add(groups[index])
    taken = set(batch)
    return batch + [index for index in ranked if index not in taken][: k - len(batch)]


def most_disputed(member_probabilities: np.ndarray, candidates: list[int], k: int) -> list[int]:
    """The k candidates on which ensemble members disagree most. member_probabilities: (members, n)."""
    spread = member_probabilities[:, candidates].std(axis=0)
    return [candidates[i] for i in np.argsort(-spread, kind="stable")[:k]]


def label_curvature(head, differences: np.ndarray) -> np.ndarray:
    """p(1-p) per pair: how much one label of that pair adds to the head's posterior precision."""
    p = sigmoid(differences @ head.weights)
    return p * (1 - p)


def posterior_covariance(head, labelled_d: np.ndarray, *, l2: float, labelled_weight: np.ndarray | None) -> np.ndarray:
    """The inverse of the head's Laplace posterior precision, l2 I + sum c p(1-p) d d^T over the labelled
    pairs (c: the weight the fit gave each label, 1 unless the head learns reliability)."""
    weight = label_curvature(head, labelled_d)
    if labelled_weight is not None:
        weight = labelled_weight * weight
    precision = labelled_d.T @ (labelled_d * weight[:, None]) + l2 * np.eye(labelled_d.shape[1])
    return np.linalg.inv(precision)


def most_informative(head, pool_differences: np.ndarray, labelled: list[int], candidates: list[int], k: int, *,
                     l2: float, weigh_by_confidence: bool = True, labelled_weight: np.ndarray | None = None
                     ) -> list[int]:
    """The k candidates that together carry the most information about the head's weights (greedy
    batch D-optimal design on its Laplace posterior).

    The posterior precision of a Bradley-Terry head is A = l2 I + sum_labelled c p(1-p) d d^T (d: the
    pair's feature difference; c: the weight the fit gave the label, `labelled_weight`, default 1 -
    a reliability-learning head's chance that the judgement is real, so that a spammer's labels do
    not make a direction look known). A new pair's label adds p(1-p) d d^T; the gain in log det A is
    log(1 + p(1-p) d^T A^-1 d). Greedily take the best pair, add it to A as if labelled (rank one,
    Sherman-Morrison), and repeat: pairs that would teach the same direction twice are not both
    taken. With weigh_by_confidence=False the p(1-p) factor of the candidate is dropped (pure variance
    of the reward gap: explores directions the model knows least, wherever its boundary sits)."""
    d = pool_differences[candidates]
    weight = label_curvature(head, d)
    score_weight = weight if weigh_by_confidence else np.ones_like(weight)
    covariance = posterior_covariance(head, pool_differences[labelled], l2=l2, labelled_weight=labelled_weight)
    picks = _greedy_batch(d, weight, covariance, k,
                          lambda variance, taken: int(np.argmax(np.where(taken, -np.inf, score_weight * variance))))
    return [candidates[i] for i in picks]


def least_sure_of_sign(head, pool_differences: np.ndarray, labelled: list[int], candidates: list[int], k: int, *,
                       l2: float, labelled_weight: np.ndarray | None = None) -> list[int]:
    """The k candidates whose better side the head is least sure of: the smallest |mean reward gap| /
    its posterior standard deviation (on the Laplace posterior of `most_informative`), that is the
    largest posterior chance that the gap has the other sign.

    |P - 0.5| ranks by the mean gap alone, so it also picks pairs the head is sure are near-ties;
    dividing by the posterior std favours pairs whose sign more labels could still settle. The batch
    is filled greedily as in `most_informative`: each pick shrinks the std of the pairs along its
    direction, so a batch does not spend its labels on one direction."""
    d = pool_differences[candidates]
    mean_gap = np.abs(d @ head.weights)
    covariance = posterior_covariance(head, pool_differences[labelled], l2=l2, labelled_weight=labelled_weight)

    def pick(variance, taken):
        z = mean_gap / np.maximum(variance, 1e-12) ** 0.5
        return int(np.argmin(np.where(taken, np.inf, z)))

    picks = _greedy_batch(d, label_curvature(head, d), covariance, k, pick)
    return [candidates[i] for i in picks]


def _greedy_batch(d: np.ndarray, weight: np.ndarray, covariance: np.ndarray, k: int, pick) -> list[int]:
    """Row indices of d for a batch of k: pick(variance, taken) chooses each next row from the
    current posterior variances of the rows' reward gaps (d^T Sigma d), and the posterior is then
    updated as if that row were labelled with curvature weight[row] (rank one, Sherman-Morrison)."""
    projected = d @ covariance  # (n, F): row i is Sigma d_i
    variance = np.einsum("ij,ij->i", projected, d)
    batch, taken = [], np.zeros(len(d), dtype=bool)
    for _ in range(min(k, len(d))):
        best = pick(variance, taken)
        batch.append(best)
        taken[best] = True
        # Sigma <- Sigma - w (Sigma d)(Sigma d)^T / (1 + w d^T Sigma d), applied to every candidate's d^T Sigma d.
        overlap = projected @ d[best]
        shrink = weight[best] / (1 + weight[best] * variance[best])
        variance = variance - shrink * overlap ** 2
        projected = projected - shrink * np.outer(overlap, projected[best])
    return batch


def most_predictive(head, pool_differences: np.ndarray, labelled: list[int], candidates: list[int], k: int, *,
                    targets: list[int], l2: float, labelled_weight: np.ndarray | None = None) -> list[int]:
    """The k candidates whose labels would most shrink the head's uncertainty about its predictions
    on `targets` (unlabelled pairs standing in for the pairs it will be judged on): a target-aware
    score in the spirit of EPIG (Bickford Smith et al., 2023), on the same Laplace posterior as
    `most_informative`.

    Labelling pair i (curvature w_i = p_i(1-p_i)) shrinks the variance of target t's reward gap by
    w_i (d_t^T Sigma d_i)^2 / (1 + w_i d_i^T Sigma d_i); each target counts by p_t(1-p_t), as its
    prediction near 0.5 is the one a better gap can turn. The batch is filled greedily with rank-one
    updates, as in `most_informative`."""
    covariance = posterior_covariance(head, pool_differences[labelled], l2=l2, labelled_weight=labelled_weight)
    d = pool_differences[candidates]
    weight = label_curvature(head, d)
    target_d = pool_differences[targets]
    target_weight = label_curvature(head, target_d)
    projected = d @ covariance  # row i: Sigma d_i
    target_projected = target_d @ covariance  # row t: Sigma d_t
    variance = np.einsum("ij,ij->i", projected, d)
    cross = projected @ target_d.T  # (n, m): d_i^T Sigma d_t
    batch, taken = [], np.zeros(len(candidates), dtype=bool)
    for _ in range(min(k, len(candidates))):
        gain = weight * ((cross ** 2) @ target_weight) / (1 + weight * variance)
        best = int(np.argmax(np.where(taken, -np.inf, gain)))
        batch.append(candidates[best])
        taken[best] = True
        overlap = projected @ d[best]
        target_overlap = target_projected @ d[best]
        shrink = weight[best] / (1 + weight[best] * variance[best])
        sigma_best = projected[best].copy()  # Sigma d_best, before Sigma changes
        variance = variance - shrink * overlap ** 2
        cross = cross - shrink * np.outer(overlap, target_overlap)
        projected = projected - shrink * np.outer(overlap, sigma_best)
        target_projected = target_projected - shrink * np.outer(target_overlap, sigma_best)
    return batch

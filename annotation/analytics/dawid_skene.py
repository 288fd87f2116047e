"""Annotator reliability by Dawid-Skene EM over binary pairwise outcomes.

Each item is one response pair; its hidden true class is 0 (lower id better) or 1 (higher id
better); each annotator has a 2x2 confusion matrix. Ties carry no class and are left out.
"""
from dataclasses import dataclass

import numpy as np

# Pseudo-counts on every confusion cell: an annotator with few labels stays near chance (0.5)
# instead of looking perfect after two lucky answers. Tuned on the simulated crowd tests.
CONFUSION_PSEUDO_COUNT = 1.0


@dataclass(frozen=True)
class DawidSkeneResult:
    """posterior: (n_items,) P(class 1); confusion: (n_workers, 2, 2) P(label | class);
    accuracy: (n_workers,) class-prior-weighted P(label == class); NaN for workers without labels."""

    posterior: np.ndarray
    confusion: np.ndarray
    accuracy: np.ndarray
    prior: np.ndarray
    iterations: int


def dawid_skene(
    item: np.ndarray,
    worker: np.ndarray,
    label: np.ndarray,
    *,
    n_items: int,
    n_workers: int,
    known: np.ndarray | None = None,
    max_iterations: int = 40,
    tolerance: float = 1e-3,
) -> DawidSkeneResult:
    """EM for binary labels. item, worker: (L,) int indices; label: (L,) 0/1.

    known: optional (n_items,) with the true class (0/1) of gold items and -1 elsewhere; those
    posteriors stay fixed, which anchors the confusion matrices.
    """
    item = np.asarray(item, dtype=np.int64)
    worker = np.asarray(worker, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    ones = np.bincount(item, weights=label, minlength=n_items)
    totals = np.bincount(item, minlength=n_items).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        posterior = np.where(totals > 0, ones / totals, 0.5)
    fixed = None
    if known is not None:
        known = np.asarray(known)
        fixed = known >= 0
        posterior[fixed] = known[fixed]
    labels_of_worker = np.bincount(worker, minlength=n_workers)
    labelled = totals > 0
    # (worker, given label) cell of each label: every step is a gather plus one bincount.
    cell = worker * 2 + label
    labels_in_cell = np.bincount(cell, minlength=2 * n_workers).astype(float)
    confusion = np.full((n_workers, 2, 2), 0.5)
    prior = np.array([0.5, 0.5])
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        mean = posterior[labelled].mean() if labelled.any() else 0.5
        prior = np.clip(np.array([1.0 - mean, mean]), 1e-3, 1 - 1e-3)
        class_1 = np.bincount(cell, weights=posterior[item], minlength=2 * n_workers).reshape(n_workers, 2)
        class_0 = labels_in_cell.reshape(n_workers, 2) - class_1
        cells = np.stack([class_0, class_1], axis=1) + CONFUSION_PSEUDO_COUNT  # (worker, class, label)
        confusion = cells / cells.sum(axis=2, keepdims=True)
        log_ratio = (np.log(confusion[:, 1, :]) - np.log(confusion[:, 0, :])).reshape(-1)
        log_odds = np.log(prior[1] / prior[0]) + np.bincount(item, weights=log_ratio[cell], minlength=n_items)
        updated = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -50, 50)))
        if fixed is not None:
            updated[fixed] = known[fixed]
        change = np.max(np.abs(updated - posterior)) if n_items else 0.0
        posterior = updated
        if change < tolerance:
            break
    accuracy = prior[0] * confusion[:, 0, 0] + prior[1] * confusion[:, 1, 1]
    accuracy = np.where(labels_of_worker > 0, accuracy, np.nan)
    return DawidSkeneResult(posterior, confusion, accuracy, prior, iterations)


def vote_weights(accuracy: np.ndarray, *, cap: float = 0.99) -> np.ndarray:
    """Log-odds vote weights log(a / (1 - a)) from accuracies, floored at 0 (chance or worse
    counts nothing) and capped so one annotator cannot outvote a crowd alone. NaN -> 0."""
    accuracy = np.clip(np.nan_to_num(np.asarray(accuracy, dtype=float), nan=0.5), 0.5, cap)
    return np.log(accuracy / (1.0 - accuracy))

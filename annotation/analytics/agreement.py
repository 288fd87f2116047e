"""Value counts per unit, pairwise percent agreement and Fleiss' kappa."""
import numpy as np


def value_counts(unit: np.ndarray, value: np.ndarray, *, n_units: int, n_values: int) -> np.ndarray:
    """(n_units, n_values) matrix: how many times unit u received value v."""
    flat = np.bincount(
        np.asarray(unit, dtype=np.int64) * n_values + np.asarray(value, dtype=np.int64),
        minlength=n_units * n_values,
    )
    return flat.reshape(n_units, n_values).astype(float)


def pairable_units(value_counts_matrix: np.ndarray) -> np.ndarray:
    """The rows of units that received at least two values (the only ones agreement can see)."""
    counts = np.asarray(value_counts_matrix, dtype=float)
    return counts[counts.sum(axis=1) >= 2]


def percent_agreement(value_counts_matrix: np.ndarray) -> float | None:
    """Mean over pairable units of the share of agreeing pairs of values (Fleiss' P-bar); None if no unit."""
    counts = pairable_units(value_counts_matrix)
    if len(counts) == 0:
        return None
    raters = counts.sum(axis=1)
    agreeing = (counts * (counts - 1.0)).sum(axis=1)
    return float(np.mean(agreeing / (raters * (raters - 1.0))))


def fleiss_kappa(value_counts_matrix: np.ndarray) -> float | None:
    """Fleiss' kappa over the pairable units; None unless every unit has the same number of raters."""
    counts = pairable_units(value_counts_matrix)
    if len(counts) == 0:
        return None
    raters = counts.sum(axis=1)
    if not np.all(raters == raters[0]):
        return None
    per_rater = raters[0]
    observed = np.mean(((counts * (counts - 1.0)).sum(axis=1)) / (per_rater * (per_rater - 1.0)))
    shares = counts.sum(axis=0) / counts.sum()
    expected = float((shares**2).sum())
    if expected >= 1.0:
        return None
    return float((observed - expected) / (1.0 - expected))

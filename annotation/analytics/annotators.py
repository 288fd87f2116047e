"""Per-annotator statistics on flat arrays: leave-one-out agreement, grouped rates, binomial tests."""
import numpy as np
from scipy import stats


def leave_one_out_agreement(unit: np.ndarray, value: np.ndarray, *, n_units: int, n_values: int):
    """How far each value agrees with the majority of the *other* values of its unit.

    Returns (score, shared): score in [0, 1] per value (1 if it equals the others' unique
    majority, 1/k if it is one of k tied majority values, 0 otherwise); shared is False where the
    unit has no other value (score 0 there, not counted).
    """
    unit = np.asarray(unit, dtype=np.int64)
    value = np.asarray(value, dtype=np.int64)
    counts = np.bincount(unit * n_values + value, minlength=n_units * n_values).reshape(n_units, n_values)
    others = counts.astype(np.int32)[unit]
    rows = np.arange(len(unit))
    others[rows, value] -= 1
    top = others.max(axis=1)
    n_top = (others == top[:, None]).sum(axis=1)
    shared = top > 0
    score = np.where(shared & (others[rows, value] == top), 1.0 / n_top, 0.0)
    return score, shared


def group_sum(group: np.ndarray, values, n_groups: int) -> np.ndarray:
    """Sum of `values` (or count when values is None) per group index."""
    if values is None:
        return np.bincount(group, minlength=n_groups).astype(float)
    return np.bincount(group, weights=np.asarray(values, dtype=float), minlength=n_groups)


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with NaN where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def group_median(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the non-NaN `values` per group (NaN for a group without values), by one sort.

    Integer-valued inputs (milliseconds) sort as one combined int64 key, several times faster
    than a two-key lexsort; other values fall back to lexsort.
    """
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    group, values = np.asarray(group, dtype=np.int64)[keep], values[keep]
    if len(values) and values.min() >= 0 and values.max() < 2**31 and np.all(values == np.round(values)):
        combined = np.sort((group << 31) | values.astype(np.int64))
        group, values = combined >> 31, (combined & (2**31 - 1)).astype(float)
    else:
        order = np.lexsort((values, group))
        group, values = group[order], values[order]
    counts = np.bincount(group, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    medians = np.full(n_groups, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    medians[has] = (values[low] + values[high]) / 2.0
    return medians


def binomial_two_sided_half(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Exact two-sided binomial p-values against p = 0.5, vectorized (NaN where trials = 0).

    The null distribution is symmetric, so the exact test (sum of outcomes no more likely than the
    observed one) equals 2 * min(P(X <= k), P(X >= k)), capped at 1.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    lower = stats.binom.cdf(k, n, 0.5)
    upper = stats.binom.sf(k - 1, n, 0.5)
    p = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    return np.where(n > 0, p, np.nan)


def binomial_greater(successes: np.ndarray, trials: np.ndarray, p: float) -> np.ndarray:
    """One-sided binomial p-values P(X >= k) under success probability p (NaN where trials = 0)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    return np.where(n > 0, stats.binom.sf(k - 1, n, p), np.nan)

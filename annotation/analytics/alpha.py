"""Krippendorff's alpha from a units x values count matrix, vectorized.

Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": the coincidence
matrix o_ck = sum_u sum_{i != j} [c_ui = c][c_uj = k] / (m_u - 1) over units with at least two
values, then alpha = 1 - (n - 1) * sum_ck o_ck delta_ck / sum_ck n_c n_k delta_ck.
"""
import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def coincidences(value_counts: np.ndarray) -> np.ndarray:
    """The (V, V) coincidence matrix of a (U, V) matrix of how often unit u got value v.

    Units with fewer than two values are not pairable and drop out.
    """
    counts = np.asarray(value_counts, dtype=float)
    pairable = counts.sum(axis=1)
    keep = pairable >= 2
    counts = counts[keep]
    scaled = counts / (pairable[keep] - 1.0)[:, None]
    matrix = scaled.T @ counts
    matrix[np.diag_indices_from(matrix)] -= scaled.sum(axis=0)
    return matrix


def distance_matrix(level: str, values: np.ndarray, marginals: np.ndarray) -> np.ndarray:
    """Squared distances delta^2_ck between the (sorted) values for a level of measurement.

    `marginals` (n_c) are needed for the ordinal metric only.
    """
    values = np.asarray(values, dtype=float)
    size = len(values)
    if level == "nominal":
        return 1.0 - np.eye(size)
    if level == "interval":
        return np.subtract.outer(values, values) ** 2
    if level == "ratio":
        total = np.add.outer(values, values)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total == 0, 0.0, np.subtract.outer(values, values) / total)
        return ratio**2
    if level == "ordinal":
        cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
        low = np.minimum.outer(np.arange(size), np.arange(size))
        high = np.maximum.outer(np.arange(size), np.arange(size))
        # sum_{g=c}^{k} n_g - (n_c + n_k) / 2
        between = cumulative[high + 1] - cumulative[low] - np.add.outer(marginals, marginals) / 2.0
        return between**2
    raise ValueError(f"Unknown level of measurement {level!r}; use one of {', '.join(LEVELS)}.")


def alpha_from_value_counts(value_counts: np.ndarray, *, level: str = "nominal", values=None) -> float | None:
    """Krippendorff's alpha of a (U, V) count matrix; None when undefined (no variation or no pairs).

    `values`: the numeric value of each column, ascending (default 0..V-1); used by the
    ordinal (order only), interval and ratio metrics.
    """
    counts = np.asarray(value_counts, dtype=float)
    if counts.ndim != 2 or counts.shape[1] == 0:
        return None
    values = np.arange(counts.shape[1], dtype=float) if values is None else np.asarray(values, dtype=float)
    matrix = coincidences(counts)
    marginals = matrix.sum(axis=0)
    total = marginals.sum()
    if total <= 1:
        return None
    delta = distance_matrix(level, values, marginals)
    observed = (matrix * delta).sum()
    expected = (np.outer(marginals, marginals) * delta).sum() / (total - 1.0)
    if expected <= 0:
        return None
    return float(1.0 - observed / expected)


def value_counts_from_reliability_data(data) -> tuple[np.ndarray, np.ndarray]:
    """(counts (U, V), values (V,)) from an observers x units matrix with NaN for missing values."""
    matrix = np.asarray(data, dtype=float)
    present = ~np.isnan(matrix)
    values, codes = np.unique(matrix[present], return_inverse=True)
    unit_of_value = np.broadcast_to(np.arange(matrix.shape[1]), matrix.shape)[present]
    counts = np.zeros((matrix.shape[1], len(values)))
    np.add.at(counts, (unit_of_value, codes), 1.0)
    return counts, values


def alpha_from_reliability_data(data, *, level: str = "nominal") -> float | None:
    """Krippendorff's alpha of an observers x units matrix (NaN = missing), like the `krippendorff` package."""
    counts, values = value_counts_from_reliability_data(data)
    return alpha_from_value_counts(counts, level=level, values=values)

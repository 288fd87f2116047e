"""Small statistics for the loop report: means with standard errors, win-rates with bootstrap
confidence intervals, and the overoptimization check. Pure Python + numpy."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class MeanEstimate:
    """A sample mean and its standard error."""

    mean: float
    standard_error: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_with_standard_error(values) -> MeanEstimate:
    """Mean and standard error (sample standard deviation / sqrt(n)); SE is 0 for n < 2."""
    array = np.asarray(list(values), dtype=float)
    if array.size == 0:
        return MeanEstimate(float("nan"), float("nan"), 0)
    se = float(array.std(ddof=1) / math.sqrt(array.size)) if array.size > 1 else 0.0
    return MeanEstimate(float(array.mean()), se, int(array.size))


@dataclass(frozen=True)
class WinRate:
    """Share of comparisons won (ties count half) with a bootstrap 95% interval."""

    win_rate: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int

    @property
    def n(self) -> int:
        return self.wins + self.ties + self.losses

    def as_dict(self) -> dict:
        return {**asdict(self), "n": self.n}


def win_rate_with_ci(outcomes, *, resamples: int = 2000, seed: int = 0) -> WinRate:
    """`outcomes`: 1 for a win, 0.5 for a tie, 0 for a loss. Percentile bootstrap 95% interval."""
    array = np.asarray(list(outcomes), dtype=float)
    wins, ties = int((array == 1.0).sum()), int((array == 0.5).sum())
    losses = int(array.size - wins - ties)
    if array.size == 0:
        return WinRate(float("nan"), float("nan"), float("nan"), 0, 0, 0)
    rng = np.random.default_rng(seed)
    means = array[rng.integers(0, array.size, size=(resamples, array.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return WinRate(float(array.mean()), float(low), float(high), wins, ties, losses)


def improvement_in_standard_errors(base: MeanEstimate, new: MeanEstimate) -> float:
    """(new - base) / the standard error of the difference of two independent means."""
    se = math.sqrt(base.standard_error**2 + new.standard_error**2)
    if se == 0:
        return math.inf if new.mean > base.mean else (-math.inf if new.mean < base.mean else 0.0)
    return (new.mean - base.mean) / se


def overoptimization_detected(*, proxy_before: float, proxy_after: float, gold_before: MeanEstimate,
                              gold_after: MeanEstimate, z: float = 2.0) -> tuple[bool, str]:
    """The Gao et al. signature: the proxy (reward model) rose while gold fell significantly."""
    change = improvement_in_standard_errors(gold_before, gold_after)
    if proxy_after > proxy_before and change < -z:
        return True, (
            f"proxy reward rose {proxy_before:.3f} -> {proxy_after:.3f} while gold reward fell "
            f"{gold_before.mean:.3f} -> {gold_after.mean:.3f} ({change:.1f} standard errors)"
        )
    return False, ""

"""Small statistics for the loop report: means with standard errors and the world's gold-reward
overoptimization check. Pure Python + numpy. (Win-rates are the platform's own:
annotation.selectors.iteration_evaluation.)"""
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

"""Rules that flag annotators whose work looks careless or automated, each with its reason."""
from dataclasses import dataclass

import numpy as np

# Reading two responses and choosing takes more than this; seen medians of real annotators on
# short HH dialogues are 10-60 s, so a median under 3 s means the text was not read.
FAST_MEDIAN_MS = 3_000
# Rules on shares need enough judgements to mean anything.
MIN_JUDGEMENTS = 20
# One verdict in at least this share of judgements is "constant choice".
CONSTANT_SHARE = 0.95
# The left (first shown) response in at least this share, or at most 1 - it: "side only".
SIDE_ONLY_SHARE = 0.95
# Position bias: the left rate differs from 50% with p below this (Bonferroni-sized for ~100s of
# annotators so honest annotators are rarely flagged by chance).
POSITION_BIAS_P = 1e-3
# Chance-level agreement: at most this agreement with the others' majority, and no significant
# excess over a coin flip (one-sided binomial p above CHANCE_P).
CHANCE_AGREEMENT = 0.6
CHANCE_P = 0.05


@dataclass(frozen=True)
class AnnotatorSignals:
    """Per-annotator arrays (NaN where undefined): judgements, median time, left rate and its
    p-value, share of the most frequent verdict, agreement with the majority and its chance p-value,
    and the number of shared items behind it."""

    n: np.ndarray
    median_ms: np.ndarray
    left_rate: np.ndarray
    left_n: np.ndarray
    left_rate_p: np.ndarray
    top_verdict_share: np.ndarray
    agreement: np.ndarray
    agreement_n: np.ndarray
    agreement_chance_p: np.ndarray


def flagged_reasons(signals: AnnotatorSignals) -> list[list[str]]:
    """One list of human-readable reasons per annotator (empty when nothing looks wrong)."""
    reasons = []
    for i in range(len(signals.n)):
        found = []
        if not np.isnan(signals.median_ms[i]) and signals.median_ms[i] < FAST_MEDIAN_MS and signals.n[i] >= 5:
            found.append(f"implausibly fast: median {signals.median_ms[i] / 1000:.1f} s per task")
        if signals.n[i] >= MIN_JUDGEMENTS and signals.top_verdict_share[i] >= CONSTANT_SHARE and not (
            signals.agreement[i] >= 0.8
        ):
            found.append(f"constant choice: the same verdict in {signals.top_verdict_share[i]:.0%} of judgements")
        left = signals.left_rate[i]
        if signals.left_n[i] >= MIN_JUDGEMENTS and (left >= SIDE_ONLY_SHARE or left <= 1 - SIDE_ONLY_SHARE):
            side = "left" if left >= 0.5 else "right"
            found.append(f"side only: picked the {side} response in {max(left, 1 - left):.0%} of choices")
        elif signals.left_n[i] >= MIN_JUDGEMENTS and signals.left_rate_p[i] < POSITION_BIAS_P:
            found.append(f"position bias: picked the left response in {left:.0%} of choices (p={signals.left_rate_p[i]:.1g})")
        if (
            signals.agreement_n[i] >= MIN_JUDGEMENTS
            and signals.agreement[i] <= CHANCE_AGREEMENT
            and signals.agreement_chance_p[i] > CHANCE_P
        ):
            found.append(
                f"chance-level agreement: {signals.agreement[i]:.0%} with the others' majority on {int(signals.agreement_n[i])} shared items"
            )
        reasons.append(found)
    return reasons

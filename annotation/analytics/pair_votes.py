"""Weighted votes on response pairs aggregated into consensus verdicts (the math of consensus)."""
from dataclasses import dataclass

import numpy as np

from .rankings import HIGHER_ID_WINS, LOWER_ID_WINS, TIE

# The strength assumed when a judgement gives none (a K-way ranking, or no slider):
# "better" (3 of 4), the middle of the scale a plain preference usually means.
DEFAULT_STRENGTH = 3.0
MAX_STRENGTH = 4.0


@dataclass(frozen=True)
class PairVerdicts:
    """Per unit (response pair): winner (0 lower id, 1 higher id, -1 none: tie or split),
    agreement = winning weight / all weight, margin = agreement * mean winning strength / 4,
    n_votes = number of votes on the unit (ties included)."""

    winner: np.ndarray
    agreement: np.ndarray
    margin: np.ndarray
    n_votes: np.ndarray


def aggregate_pair_votes(
    unit: np.ndarray,
    outcome: np.ndarray,
    weight: np.ndarray,
    strength: np.ndarray,
    *,
    n_units: int,
) -> PairVerdicts:
    """Weighted vote per unit. unit: (L,) int; outcome: (L,) 0/1/2 (2 = tie);
    weight: (L,) float >= 0; strength: (L,) 1..4 or NaN when not given.

    A unit has a winner only when one side outweighs both the other side and the ties.
    """
    unit = np.asarray(unit, dtype=np.int64)
    outcome = np.asarray(outcome)
    weight = np.asarray(weight, dtype=float)
    strength = np.where(np.isnan(strength), DEFAULT_STRENGTH, strength)
    side_weight = [
        np.bincount(unit, weights=weight * (outcome == code), minlength=n_units)
        for code in (LOWER_ID_WINS, HIGHER_ID_WINS, TIE)
    ]
    lower, higher, tie = side_weight
    total = lower + higher + tie
    winner = np.full(n_units, -1, dtype=np.int8)
    winner[(lower > higher) & (lower > tie)] = LOWER_ID_WINS
    winner[(higher > lower) & (higher > tie)] = HIGHER_ID_WINS
    winning_weight = np.where(winner == LOWER_ID_WINS, lower, np.where(winner == HIGHER_ID_WINS, higher, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = np.where(total > 0, winning_weight / total, 0.0)
    votes_for_winner = (outcome == winner[unit]) & (winner[unit] >= 0)
    strength_sum = np.bincount(unit, weights=weight * strength * votes_for_winner, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_strength = np.where(winning_weight > 0, strength_sum / winning_weight, 0.0)
    margin = agreement * mean_strength / MAX_STRENGTH
    n_votes = np.bincount(unit, minlength=n_units)
    return PairVerdicts(winner, agreement, margin, n_votes)

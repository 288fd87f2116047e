"""Pairwise decomposition of rankings (ordered tiers of response ids, best first).

A pair outcome is coded by response identity, never by screen side:
0 the lower response id is preferred, 1 the higher id is preferred, 2 tie (same tier).
"""
import numpy as np

LOWER_ID_WINS = 0
HIGHER_ID_WINS = 1
TIE = 2


def ranking_pairs(ranking) -> list[tuple[int, int, int]]:
    """[(lower_id, higher_id, outcome)] for every pair of responses in one ranking."""
    tier_of = {}
    for tier_index, tier in enumerate(ranking or []):
        for response_id in tier:
            tier_of[int(response_id)] = tier_index
    ids = sorted(tier_of)
    pairs = []
    for i, lower in enumerate(ids):
        for higher in ids[i + 1:]:
            if tier_of[lower] == tier_of[higher]:
                outcome = TIE
            elif tier_of[lower] < tier_of[higher]:
                outcome = LOWER_ID_WINS
            else:
                outcome = HIGHER_ID_WINS
            pairs.append((lower, higher, outcome))
    return pairs


def decompose_rankings(owner: np.ndarray, response: np.ndarray, tier: np.ndarray):
    """Vectorized pairwise decomposition of many rankings given as flat rows.

    owner, response, tier: (R,) int arrays, one row per (ranking, response) with the response's
    tier index (smaller = better). Returns (owner, lower_id, higher_id, outcome) arrays with one
    row per response pair of each ranking: C(K, 2) rows for a ranking of K responses.
    """
    owner = np.asarray(owner, dtype=np.int64)
    response = np.asarray(response, dtype=np.int64)
    tier = np.asarray(tier, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if len(owner) == 0:
        return empty, empty, empty, empty.astype(np.int8)
    order = np.argsort(owner, kind="stable")
    owner, response, tier = owner[order], response[order], tier[order]
    owners, starts, sizes = np.unique(owner, return_index=True, return_counts=True)
    group = np.repeat(np.arange(len(owners)), sizes)
    slot = np.arange(len(owner)) - starts[group]
    width = int(sizes.max())
    responses = np.full((len(owners), width), -1, dtype=np.int64)
    tiers = np.zeros((len(owners), width), dtype=np.int64)
    responses[group, slot] = response
    tiers[group, slot] = tier
    parts = []
    for a in range(width):
        for b in range(a + 1, width):
            valid = (responses[:, a] >= 0) & (responses[:, b] >= 0)
            if not valid.any():
                continue
            ra, rb = responses[valid, a], responses[valid, b]
            ta, tb = tiers[valid, a], tiers[valid, b]
            lower = np.minimum(ra, rb)
            higher = np.maximum(ra, rb)
            a_wins = ta < tb
            winner = np.where(a_wins, ra, rb)
            outcome = np.where(ta == tb, TIE, np.where(winner == lower, LOWER_ID_WINS, HIGHER_ID_WINS))
            parts.append((owners[valid], lower, higher, outcome.astype(np.int8)))
    if not parts:
        return empty, empty, empty, empty.astype(np.int8)
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))


def factorize_units(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """(unit index per row, number of units) for rows identified by several int key columns."""
    if len(keys[0]) == 0:
        return np.zeros(0, dtype=np.int64), 0
    order = np.lexsort(keys[::-1])
    sorted_keys = [np.asarray(key)[order] for key in keys]
    new_unit = np.zeros(len(order), dtype=bool)
    new_unit[0] = True
    for key in sorted_keys:
        new_unit[1:] |= key[1:] != key[:-1]
    unit_sorted = np.cumsum(new_unit) - 1
    unit = np.empty(len(order), dtype=np.int64)
    unit[order] = unit_sorted
    return unit, int(unit_sorted[-1]) + 1

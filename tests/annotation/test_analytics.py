"""The agreement math against hand-computed values, the published example and the `krippendorff` package."""
import krippendorff
import numpy as np
import pytest
from scipy import stats

from annotation.analytics.agreement import fleiss_kappa, percent_agreement, value_counts
from annotation.analytics.alpha import alpha_from_reliability_data, alpha_from_value_counts
from annotation.analytics.annotators import (
    binomial_greater,
    binomial_two_sided_half,
    group_median,
    leave_one_out_agreement,
)
from annotation.analytics.dawid_skene import dawid_skene, vote_weights
from annotation.analytics.pair_votes import aggregate_pair_votes
from annotation.analytics.rankings import decompose_rankings, factorize_units, ranking_pairs

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12
# units with missing values.
WORKED_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_published_worked_example(level, published):
    assert alpha_from_reliability_data(WORKED_EXAMPLE, level=level) == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_random_matrices_match_the_krippendorff_package(level):
    rng = np.random.default_rng(7)
    for trial in range(25):
        observers, units, n_values = rng.integers(2, 8), rng.integers(5, 60), rng.integers(2, 6)
        # Correlated observers, so alphas spread over positive and negative values.
        truth = rng.integers(1, n_values + 1, size=units)
        noise = rng.integers(1, n_values + 1, size=(observers, units))
        data = np.where(rng.random((observers, units)) < rng.random(), truth, noise).astype(float)
        data[rng.random(data.shape) < 0.25] = np.nan
        if np.sum((~np.isnan(data)).sum(axis=0) >= 2) < 2 or len(np.unique(data[~np.isnan(data)])) < 2:
            continue
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert alpha_from_reliability_data(data, level=level) == pytest.approx(expected, abs=1e-9), trial


def test_alpha_is_undefined_without_variation_or_pairs():
    assert alpha_from_value_counts(np.array([[2.0, 0.0], [3.0, 0.0]])) is None
    assert alpha_from_value_counts(np.array([[1.0, 0.0], [0.0, 1.0]])) is None
    assert alpha_from_value_counts(np.zeros((0, 3))) is None


def test_percent_agreement_and_fleiss_kappa_by_hand():
    # Unit 1: A A B (1 agreeing pair of 3); unit 2: B B B (3 of 3); unit 3: A B tie (0 of 3).
    counts = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [1.0, 1.0, 1.0]])
    assert percent_agreement(counts) == pytest.approx((1 / 3 + 1 + 0) / 3)
    shares = np.array([3, 5, 1]) / 9
    expected_chance = (shares**2).sum()
    assert fleiss_kappa(counts) == pytest.approx(((4 / 9) - expected_chance) / (1 - expected_chance))
    # Unequal numbers of raters: Fleiss' kappa is undefined.
    assert fleiss_kappa(np.array([[2.0, 0.0, 0.0], [1.0, 1.0, 1.0]])) is None
    # Units with a single value do not count.
    assert percent_agreement(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])) == 1.0


def test_fleiss_kappa_matches_the_textbook_example():
    """Fleiss (1971) / Wikipedia example: 10 subjects, 14 raters, 5 categories, kappa = 0.210."""
    table = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ], dtype=float)
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=5e-4)


def test_value_counts_from_flat_rows():
    counts = value_counts(np.array([0, 0, 1, 1, 1]), np.array([2, 2, 0, 1, 1]), n_units=3, n_values=3)
    assert counts.tolist() == [[0, 0, 2], [1, 2, 0], [0, 0, 0]]


def test_ranking_decomposition_vectorized_equals_the_plain_version():
    rankings = {10: [[5], [3, 9], [1]], 11: [[2], [7]], 12: [[8, 4]], 13: [[6], [3], [2], [1]]}
    owner, response, tier = [], [], []
    for key, ranking in rankings.items():
        for t, ids in enumerate(ranking):
            for r in ids:
                owner.append(key), response.append(r), tier.append(t)
    got = decompose_rankings(np.array(owner), np.array(response), np.array(tier))
    got_rows = sorted(zip(*(part.tolist() for part in got)))
    expected = sorted((key, *pair) for key, ranking in rankings.items() for pair in ranking_pairs(ranking))
    assert got_rows == expected
    assert len([row for row in got_rows if row[0] == 13]) == 6  # C(4, 2)
    assert ranking_pairs([[5], [3, 9], [1]]) == [(1, 3, 1), (1, 5, 1), (1, 9, 1), (3, 5, 1), (3, 9, 2), (5, 9, 0)]


def test_factorize_units_by_several_keys():
    unit, n = factorize_units(np.array([1, 1, 2, 1]), np.array([5, 6, 5, 5]))
    assert n == 3 and unit[0] == unit[3] and len({unit[0], unit[1], unit[2]}) == 3


def test_leave_one_out_agreement_gives_partial_credit_on_tied_others():
    # Unit 0: values A A B. Unit 1: A alone.
    score, shared = leave_one_out_agreement(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 0]), n_units=2, n_values=3)
    # First A: others A, B tie -> 1/2. Second A: same. B: others A A -> disagrees.
    assert score.tolist() == [0.5, 0.5, 0.0, 0.0]
    assert shared.tolist() == [True, True, True, False]


def test_binomial_tests_match_scipy():
    for k, n in [(0, 1), (3, 10), (8, 10), (80, 100), (50, 100), (513, 1000), (0, 0)]:
        p = binomial_two_sided_half(np.array([k]), np.array([n]))[0]
        if n == 0:
            assert np.isnan(p)
        else:
            assert p == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-9)
    assert binomial_greater(np.array([14]), np.array([20]), 0.5)[0] == pytest.approx(
        stats.binomtest(14, 20, 0.5, alternative="greater").pvalue
    )


def test_group_median_matches_numpy():
    rng = np.random.default_rng(1)
    group = rng.integers(0, 6, size=200)
    values = rng.normal(size=200)
    values[rng.random(200) < 0.1] = np.nan
    medians = group_median(group, values, 7)
    for g in range(6):
        assert medians[g] == pytest.approx(np.nanmedian(values[group == g]))
    assert np.isnan(medians[6])


def test_aggregate_pair_votes_weights_ties_and_margin():
    unit = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    outcome = np.array([0, 0, 1, 0, 1, 2, 2, 0])
    weight = np.ones(8)
    strength = np.array([4, 2, 4, np.nan, 3, np.nan, np.nan, 4])
    verdicts = aggregate_pair_votes(unit, outcome, weight, strength, n_units=3)
    assert verdicts.winner.tolist() == [0, -1, -1]
    assert verdicts.agreement[0] == pytest.approx(2 / 3)
    assert verdicts.margin[0] == pytest.approx(2 / 3 * 3 / 4)
    assert verdicts.n_votes.tolist() == [3, 2, 3]


def simulated_crowd(rng, *, n_items=600, n_workers=30, per_item=5, spammer_share=0.3):
    """True classes, and labels from workers who are right with 0.7-0.95 or spam at random."""
    truth = rng.integers(0, 2, size=n_items)
    spammer = np.zeros(n_workers, dtype=bool)
    spammer[: int(round(spammer_share * n_workers))] = True
    accuracy = np.where(spammer, 0.5, rng.uniform(0.7, 0.95, size=n_workers))
    item = np.repeat(np.arange(n_items), per_item)
    worker = np.concatenate([rng.choice(n_workers, size=per_item, replace=False) for _ in range(n_items)])
    correct = rng.random(len(item)) < accuracy[worker]
    label = np.where(correct, truth[item], 1 - truth[item])
    return truth, spammer, accuracy, item, worker, label


def test_dawid_skene_finds_spammers_and_beats_majority():
    rng = np.random.default_rng(3)
    truth, spammer, accuracy, item, worker, label = simulated_crowd(rng)
    result = dawid_skene(item, worker, label, n_items=len(truth), n_workers=len(accuracy))
    # Spammers are estimated near chance, good workers well above it.
    assert np.max(result.accuracy[spammer]) < 0.65 < np.min(result.accuracy[~spammer])
    assert np.corrcoef(result.accuracy, accuracy)[0, 1] > 0.9
    weighted = aggregate_pair_votes(item, label, vote_weights(result.accuracy)[worker], np.full(len(item), np.nan), n_units=len(truth))
    majority = aggregate_pair_votes(item, label, np.ones(len(item)), np.full(len(item), np.nan), n_units=len(truth))
    assert np.mean(weighted.winner == truth) > np.mean(majority.winner == truth) + 0.03


def test_dawid_skene_gold_items_anchor_the_classes():
    # Two workers who always disagree: gold decides which one is right.
    item = np.repeat(np.arange(20), 2)
    worker = np.tile([0, 1], 20)
    truth = np.arange(20) % 2
    label = np.where(worker == 0, truth[item], 1 - truth[item])
    known = np.where(np.arange(20) < 5, truth, -1)
    result = dawid_skene(item, worker, label, n_items=20, n_workers=2, known=known)
    assert result.accuracy[0] > 0.8 > 0.2 > result.accuracy[1]
    assert np.all((result.posterior > 0.5) == truth.astype(bool))

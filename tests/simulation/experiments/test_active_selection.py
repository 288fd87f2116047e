"""The pure parts of the active-selection experiment."""
import random
from types import SimpleNamespace

import numpy as np
import pytest

from simulation.experiments.acquisition import (
    least_certain,
    least_certain_per_group,
    least_sure_of_sign,
    most_disputed,
    most_informative,
    most_predictive,
)
from simulation.experiments.active_selection import (
    STRATEGIES,
    active_selection_experiment,
    labelled_pool,
    LOOP_SCALE,
    labels_needed,
    parse_arguments,
    run_strategy,
    summarise,
)
from simulation.gold_reward import gold_reward
from simulation.experiments.measurement import gold_labelled_pairs
from training.linear_reward import LinearRewardHead, fit_bradley_terry_head, pairwise_accuracy


def test_labels_needed_interpolates_where_the_curve_crosses_the_target():
    curve = [{"labels": 32, "accuracy": 0.6}, {"labels": 64, "accuracy": 0.7}, {"labels": 128, "accuracy": 0.8}]
    assert labels_needed(curve, 0.75) == pytest.approx(96.0)
    assert labels_needed(curve, 0.55) == 32.0
    assert labels_needed(curve, 0.9) is None


def test_the_labelled_pool_is_deterministic_and_mostly_agrees_with_the_gold_reward():
    pool = labelled_pool(seed=3, tasks_per_prompt=4, annotators=6)
    assert pool == labelled_pool(seed=3, tasks_per_prompt=4, annotators=6)
    agree = [
        gold_reward(row["prompt"], row["chosen"][0]["content"]) >= gold_reward(row["prompt"], row["rejected"][0]["content"])
        for row in pool
    ]
    # Careful annotators plus two spammers: well above chance, well below perfect.
    assert 0.6 < sum(agree) / len(agree) < 0.97


def test_a_repaired_pool_draws_distinct_pairs_from_the_same_candidate_responses():
    tasks_pool = labelled_pool(seed=2, tasks_per_prompt=4, annotators=6)
    repaired = labelled_pool(seed=2, tasks_per_prompt=4, annotators=6, pairs_per_prompt=12)
    assert repaired == labelled_pool(seed=2, tasks_per_prompt=4, annotators=6, pairs_per_prompt=12)
    prompts = {row["prompt_text"] for row in tasks_pool}
    assert len(repaired) == 12 * len(prompts)
    for prompt in prompts:
        candidates = {row[side] for row in tasks_pool if row["prompt_text"] == prompt for side in ("first", "second")}
        pairs = [frozenset((row["first"], row["second"])) for row in repaired if row["prompt_text"] == prompt]
        assert len(set(pairs)) == 12  # distinct pairs, each of two different texts
        assert all(len(pair) == 2 and pair <= candidates for pair in pairs)  # not one new response
    # display order is random: the same texts are shown first in some pairs and second in others
    firsts = sum(row["first"] < row["second"] for row in repaired)
    assert 0.3 < firsts / len(repaired) < 0.7
    with pytest.raises(ValueError, match="raise tasks_per_prompt"):
        labelled_pool(seed=2, tasks_per_prompt=2, annotators=6, pairs_per_prompt=7)  # 4 candidates: 6 pairings


def test_loop_scale_sets_the_headline_setting_and_explicit_flags_still_win():
    arguments = parse_arguments(["--loop-scale"])
    assert (arguments.tasks_per_prompt, arguments.pairs_per_prompt, arguments.budget, arguments.batch_size) == \
        (32, 128, 1024, 32)
    assert arguments.strategies == LOOP_SCALE["strategies"]
    arguments = parse_arguments(["--loop-scale", "--pairs-per-prompt", "256", "--strategies", "random,diverse"])
    assert (arguments.pairs_per_prompt, arguments.budget, arguments.strategies) == (256, 1024, ("random", "diverse"))
    defaults = parse_arguments([])
    assert (defaults.budget, defaults.pairs_per_prompt, defaults.layer) == (400, None, -1)
    assert parse_arguments(["--loop-scale", "--layer", "4"]).layer == 4
    with pytest.raises(SystemExit):
        parse_arguments(["--strategies", "uncertainty"])  # no random to measure against


def test_uncertainty_picks_the_pairs_nearest_even_odds_among_the_candidates():
    probabilities = np.array([0.5, 0.9, 0.45, 0.1, 0.62, 0.51])
    # index 0 (0.5) is already labelled, so it is not a candidate
    assert least_certain(probabilities, [1, 2, 3, 4, 5], 3) == [5, 2, 4]


def test_the_diverse_variant_takes_one_pair_per_prompt_before_a_second():
    probabilities = np.array([0.5, 0.51, 0.52, 0.9, 0.8])
    groups = ["a", "a", "a", "b", "c"]
    assert least_certain_per_group(probabilities, [0, 1, 2, 3, 4], 2, groups) == [0, 4]
    assert least_certain_per_group(probabilities, [0, 1, 2, 3, 4], 4, groups) == [0, 4, 3, 1]


def test_ensemble_disagreement_picks_the_most_disputed_pairs():
    members = np.array([[0.5, 0.9, 0.1, 0.6],
                        [0.5, 0.1, 0.2, 0.4]])
    assert most_disputed(members, [0, 1, 2, 3], 2) == [1, 3]


def test_information_takes_the_least_known_direction_and_not_the_same_one_twice():
    # Labelled pairs all differ along feature 0, so the head knows that direction well.
    differences = np.array([[1.0, 0.0, 0.0]] * 6 + [[1.2, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.9]])
    head = LinearRewardHead(weights=np.zeros(3))
    candidates = [6, 7, 8, 9]
    # Along feature 1 nothing is known: a pair there first; its twin next teaches less than the
    # unknown feature 2, even though feature 2's pair is smaller.
    assert most_informative(head, differences, [0, 1, 2, 3, 4, 5], candidates, 2, l2=1.0) == [7, 9]
    assert most_informative(head, differences, [0, 1, 2, 3, 4, 5], candidates, 3, l2=1.0) == [7, 9, 8]


def test_information_prefers_pairs_the_head_cannot_yet_call():
    differences = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    head = LinearRewardHead(weights=np.array([0.0, 4.0]))  # sure about feature 1 (P = 0.98), not feature 0
    assert most_informative(head, differences, [], [0, 1], 1, l2=1.0) == [0]
    # Without the p(1-p) weight both are unexplored (equal variance): the first wins the tie.
    assert most_informative(head, differences, [], [1, 0], 1, l2=1.0, weigh_by_confidence=False) == [1]


def test_information_does_not_count_a_discounted_label_as_knowledge():
    # One label along each feature; the one along feature 0 came from a suspected spammer.
    differences = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    head = LinearRewardHead(weights=np.zeros(2))
    assert most_informative(head, differences, [0, 1], [2, 3], 1, l2=1.0) == [2]  # a tie: the first
    assert most_informative(head, differences, [0, 1], [2, 3], 1, l2=1.0, labelled_weight=np.array([0.05, 1.0])) == [3]


def test_prediction_takes_the_pair_that_teaches_about_the_targets_not_the_least_known_one():
    # The targets differ along feature 0 only. A pair along feature 1 is less known (larger), but
    # its label would tell the head nothing about the targets' reward gaps.
    differences = np.array([[0.0, 2.0], [0.5, 0.0], [1.0, 0.0], [1.0, 0.0]])
    head = LinearRewardHead(weights=np.zeros(2))
    assert most_informative(head, differences, [], [0, 1], 1, l2=1.0) == [0]
    assert most_predictive(head, differences, [], [0, 1], 1, targets=[2, 3], l2=1.0) == [1]


def test_prediction_fills_its_batch_as_if_each_pick_were_labelled():
    rng = np.random.default_rng(0)
    differences = rng.normal(size=(300, 8))
    head = LinearRewardHead(weights=rng.normal(size=8) * 0.3)
    labelled, candidates, targets = list(range(30)), list(range(30, 300)), list(range(200, 260))
    batch = most_predictive(head, differences, labelled, candidates, 3, targets=targets, l2=1.0)
    # The greedy rank-one updates give what a fresh posterior with the earlier picks labelled gives.
    for i in range(1, 3):
        rest = [c for c in candidates if c not in batch[:i]]
        assert most_predictive(head, differences, labelled + batch[:i], rest, 1, targets=targets, l2=1.0) == [batch[i]]


def test_sign_takes_the_pair_whose_better_side_is_unknown_not_the_known_near_tie():
    # Twenty labels along feature 0 pin it down; feature 1 has none.
    differences = np.array([[1.0, 0.0]] * 20 + [[0.1, 0.0], [0.0, 1.0]])
    head = LinearRewardHead(weights=np.array([1.0, 0.5]))
    labelled, candidates = list(range(20)), [20, 21]
    # Pair 20's mean gap is 0.1 with std ~0.045 (z ~2.2); pair 21's is 0.5 with std 1 (z = 0.5).
    assert least_certain(head.preference_probability(differences, np.zeros_like(differences)), candidates, 1) == [20]
    assert least_sure_of_sign(head, differences, labelled, candidates, 1, l2=1.0) == [21]


def test_sign_does_not_spend_a_batch_on_one_direction():
    differences = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    head = LinearRewardHead(weights=np.array([0.0, 0.3, 0.32]))
    # Alone, the two copies along feature 1 rank first (z 0.30 against 0.32). Once one is taken as
    # if labelled, the other's std shrinks to ~0.90 (z ~0.335) and the pair along feature 2 wins.
    assert least_sure_of_sign(head, differences, [], [0, 1, 2], 2, l2=1.0) == [0, 2]


def test_sign_fills_its_batch_as_if_each_pick_were_labelled():
    rng = np.random.default_rng(1)
    differences = rng.normal(size=(300, 8))
    head = LinearRewardHead(weights=rng.normal(size=8) * 0.3)
    labelled, candidates = list(range(30)), list(range(30, 300))
    batch = least_sure_of_sign(head, differences, labelled, candidates, 4, l2=1.0)
    for i in range(1, 4):
        rest = [c for c in candidates if c not in batch[:i]]
        assert least_sure_of_sign(head, differences, labelled + batch[:i], rest, 1, l2=1.0) == [batch[i]]


def test_summary_target_and_label_reduction_from_per_seed_curves():
    schedule = [10, 20, 30, 40]
    runs = {
        "random": [[0.5, 0.6, 0.7, 0.8], [0.5, 0.6, 0.7, 0.8]],
        "uncertainty": [[0.5, 0.7, 0.8, 0.8], [0.5, 0.6, 0.8, 0.8]],
    }
    summary = summarise(schedule, runs)
    assert summary["target_accuracy"] == pytest.approx(0.76)  # 0.95 x random's final 0.8
    assert summary["curves"]["uncertainty"][1] == {"labels": 20, "accuracy": 0.65, "standard_error": 0.05}
    # random crosses 0.76 at 36 labels; uncertainty's mean curve (0.5, 0.65, 0.8) at 27.3
    assert summary["labels_needed"]["random"] == pytest.approx(36.0)
    assert summary["labels_needed"]["uncertainty"] == pytest.approx(27.3, abs=0.05)
    assert summary["label_reduction"] == pytest.approx(1 - 27.333 / 36, abs=1e-3)
    per_seed = summary["label_reductions"]["uncertainty"]["per_seed"]
    # seed 0: 20 + 10 * 0.06 / 0.1 = 26 -> 1 - 26/36; seed 1: 28 -> 1 - 28/36
    assert per_seed["n"] == 2 and per_seed["mean"] == pytest.approx(1 - 27 / 36, abs=1e-3)
    spread = summary["label_reductions"]["uncertainty"]["bootstrap_over_seeds"]
    # every resample of these two seeds puts uncertainty ahead: 1 - 26/36 .. 1 - 28/36
    assert spread["share_positive"] == 1.0 and 0.22 - 1e-3 <= spread["p05"] <= spread["p95"] <= 0.278 + 1e-3


def _synthetic_pool():
    """300 labelled pool pairs and 200 evaluation pairs (better side first) of a known linear reward."""
    rng = np.random.default_rng(0)
    true_weights = rng.normal(size=12)
    pool = SimpleNamespace(first=rng.normal(size=(300, 12)), second=rng.normal(size=(300, 12)),
                           groups=[index % 10 for index in range(300)])
    labels = (rng.random(300) < 1 / (1 + np.exp(-(pool.first - pool.second) @ true_weights))).astype(float)
    evaluation_first, evaluation_second = rng.normal(size=(200, 12)), rng.normal(size=(200, 12))
    better = ((evaluation_first - evaluation_second) @ true_weights > 0)[:, None]
    evaluation = SimpleNamespace(first=np.where(better, evaluation_first, evaluation_second),
                                 second=np.where(better, evaluation_second, evaluation_first))
    return pool, labels, evaluation


def test_strategies_share_the_warm_start_and_learn_on_a_synthetic_pool():
    pool, labels, evaluation = _synthetic_pool()
    schedule = [8, 16, 32, 64]
    curves = {name: run_strategy(name, pool, labels, evaluation, schedule=schedule, seed=1) for name in STRATEGIES}
    assert len({curve[0] for curve in curves.values()}) == 1  # the same 8 warm-start labels
    for curve in curves.values():
        assert len(curve) == len(schedule) and curve[-1] > 0.8
    # with a reliability-learning head (its label weights reach the information score)
    annotators = np.array(["a", "b", "c"] * 100)
    learned = run_strategy("information", pool, labels, evaluation, schedule=schedule, seed=1, annotators=annotators)
    assert len(learned) == len(schedule) and learned[-1] > 0.8


def test_ranked_once_it_labels_at_random_then_follows_one_ranking_without_refits():
    pool, labels, evaluation = _synthetic_pool()
    schedule = [8, 16, 32, 64]
    once = run_strategy("uncertainty", pool, labels, evaluation, schedule=schedule, seed=1, rank_once_after=16)
    assert once[:2] == run_strategy("random", pool, labels, evaluation, schedule=schedule, seed=1)[:2]
    # by hand: the head fitted on random's first 16 labels ranks the other pairs once, for 48 labels
    order = list(range(300))
    random.Random(1).shuffle(order)

    def accuracy_with(indices):
        head = fit_bradley_terry_head(pool.first[indices], pool.second[indices], labels[indices], l2=1.0)
        return pairwise_accuracy(head, evaluation.first, evaluation.second), head

    _, ranker = accuracy_with(order[:16])
    ranking = least_certain(ranker.preference_probability(pool.first, pool.second), order[16:], 48)
    assert once[2:] == pytest.approx([accuracy_with(order[:16] + ranking[:16])[0],
                                      accuracy_with(order[:16] + ranking[:48])[0]])
    # mixed's one ranking alternates its uncertain and random picks, so each batch from it is half and half
    mixed = run_strategy("mixed", pool, labels, evaluation, schedule=schedule, seed=1, rank_once_after=16)
    assert mixed[:2] == once[:2] and mixed[2] != once[2]
    with pytest.raises(ValueError, match="rank_once_after"):
        run_strategy("uncertainty", pool, labels, evaluation, schedule=schedule, seed=1, rank_once_after=20)


def test_ranked_once_the_summary_counts_only_the_labels_after_the_ranking():
    schedule = [10, 20, 30, 40]
    runs = {"random": [[0.5, 0.6, 0.7, 0.8]] * 2, "uncertainty": [[0.5, 0.6, 0.8, 0.8]] * 2}
    summary = summarise(schedule, runs, ranked_from=20)
    # 0.6 at the ranking + 0.95 x random's gain after it (0.2)
    assert summary["target_accuracy"] == pytest.approx(0.79)
    assert summary["labels_needed"] == pytest.approx({"random": 39.0, "uncertainty": 29.5})
    # 9.5 labels after the ranking instead of random's 19
    assert summary["label_reduction"] == pytest.approx(0.5)
    assert summary["label_reductions"]["uncertainty"]["by_target_fraction"]["1.0"] == pytest.approx(0.5)


def test_rank_once_after_must_be_a_whole_batch_before_the_budget():
    assert parse_arguments(["--loop-scale", "--rank-once-after", "512"]).rank_once_after == 512
    for bad in ("500", "1024"):
        with pytest.raises(SystemExit):
            parse_arguments(["--loop-scale", "--rank-once-after", bad])


@pytest.mark.slow
def test_a_tiny_experiment_end_to_end_with_the_real_encoder(tmp_path, capsys):
    result = active_selection_experiment(directory=tmp_path, seeds=[0, 1], budget=24, batch_size=8,
                                         tasks_per_prompt=1, eval_pairs=gold_labelled_pairs()[:24])
    # the embedding child's progress reaches a bar here, up to every text it embedded
    embedded = len((tmp_path / "missing.jsonl").read_text().splitlines())
    shown = capsys.readouterr().err
    assert embedded > 24 and "embedding new texts: 100%" in shown and f"{embedded}/{embedded}" in shown
    assert result["pool_size"] == 32 and result["seeds"] == [0, 1]
    assert [p["labels"] for p in result["curves"]["uncertainty"]] == [8, 16, 24]
    assert set(result["curves"]) == set(STRATEGIES) and len(result["runs"]["random"]) == 2
    assert 0.0 <= result["target_accuracy"] <= 1.0
    # a rerun finds every embedding in the cache and gives the same numbers, also with seeds in two processes
    assert active_selection_experiment(directory=tmp_path, seeds=[0, 1], budget=24, batch_size=8, tasks_per_prompt=1,
                                       eval_pairs=gold_labelled_pairs()[:24], progress=False, jobs=2)["runs"] == result["runs"]
    # another layer's embeddings go to their own cache, beside the last layer's, and change the numbers
    layer_4 = active_selection_experiment(directory=tmp_path, seeds=[0, 1], budget=24, batch_size=8, tasks_per_prompt=1,
                                          eval_pairs=gold_labelled_pairs()[:24], progress=False, layer=4)
    assert len((tmp_path / "layer-4" / "missing.jsonl").read_text().splitlines()) == embedded
    assert layer_4["embedding_layer"] == 4 and "after layer 4" in layer_4["reward_model"]
    assert layer_4["runs"] != result["runs"] and result["embedding_layer"] == -1

"""The pure parts of the active-selection experiment."""
import pytest

from annotation.world.active_selection import labelled_pool, labels_needed
from annotation.world.gold_reward import gold_reward


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

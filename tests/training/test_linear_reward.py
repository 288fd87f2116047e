"""The linear Bradley-Terry reward head: optimality of the Newton fit, weights, and recovery of a
known preference direction."""
import numpy as np
import pytest

from training.linear_reward import (
    LinearRewardHead,
    fit_bradley_terry_head,
    fit_with_annotator_reliability,
    pairwise_accuracy,
    reward_features,
    sigmoid,
)


def regularised_gradient(head, first, second, labels, l2, weight=None):
    weight = np.ones(len(labels)) if weight is None else weight
    differences = first - second
    return differences.T @ (weight * (sigmoid(differences @ head.weights) - labels)) + l2 * head.weights


@pytest.mark.parametrize("n_pairs", [20, 200])  # fewer pairs than features (Woodbury step) and more
def test_the_fit_is_the_regularised_optimum(n_pairs):
    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(n_pairs, 50)), rng.normal(size=(n_pairs, 50))
    labels = (rng.random(n_pairs) < 0.5).astype(float)
    head = fit_bradley_terry_head(first, second, labels, l2=0.5)
    assert np.abs(regularised_gradient(head, first, second, labels, 0.5)).max() < 1e-6


@pytest.mark.parametrize("n_pairs", [20, 200])
def test_a_warm_start_reaches_the_same_optimum(n_pairs):
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(n_pairs, 50)), rng.normal(size=(n_pairs, 50))
    labels = (rng.random(n_pairs) < 0.5).astype(float)
    from_zero = fit_bradley_terry_head(first, second, labels, l2=0.5)
    # started from a fit on fewer labels, as a refit loop does
    earlier = fit_bradley_terry_head(first[: n_pairs // 2], second[: n_pairs // 2], labels[: n_pairs // 2], l2=0.5)
    warm = fit_bradley_terry_head(first, second, labels, l2=0.5, initial_weights=earlier.weights)
    assert np.abs(regularised_gradient(warm, first, second, labels, 0.5)).max() < 1e-6
    np.testing.assert_allclose(warm.weights, from_zero.weights, atol=1e-6)


def test_integer_sample_weights_equal_repeated_pairs():
    rng = np.random.default_rng(1)
    first, second = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
    labels = (rng.random(30) < 0.5).astype(float)
    weight = rng.integers(0, 3, size=30)
    weighted = fit_bradley_terry_head(first, second, labels, l2=1.0, sample_weight=weight)
    repeated = fit_bradley_terry_head(np.repeat(first, weight, axis=0), np.repeat(second, weight, axis=0),
                                      np.repeat(labels, weight), l2=1.0)
    np.testing.assert_allclose(weighted.weights, repeated.weights, atol=1e-8)


def test_noisy_preferences_from_a_known_reward_are_learned():
    rng = np.random.default_rng(2)
    true_weights = rng.normal(size=20)
    first, second = rng.normal(size=(600, 20)), rng.normal(size=(600, 20))
    labels = (rng.random(600) < sigmoid((first - second) @ true_weights)).astype(float)
    head = fit_bradley_terry_head(first[:400], second[:400], labels[:400], l2=1.0)
    cosine = head.weights @ true_weights / np.linalg.norm(head.weights) / np.linalg.norm(true_weights)
    assert cosine > 0.9
    truly_better = (first[400:] - second[400:]) @ true_weights > 0
    chosen = np.where(truly_better[:, None], first[400:], second[400:])
    rejected = np.where(truly_better[:, None], second[400:], first[400:])
    assert pairwise_accuracy(head, chosen, rejected) > 0.85


def test_features_and_probabilities_by_hand():
    prompt, response = np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])
    np.testing.assert_array_equal(reward_features(prompt, response), [[3.0, 4.0, 11.0]])  # 1*3 + 2*4
    head = LinearRewardHead(weights=np.array([1.0, 0.0]))
    # rewards 2 and 1: P = sigmoid(1); equal rewards: 0.5 and an accuracy of one half (a tie)
    assert head.preference_probability(np.array([[2.0, 0.0]]), np.array([[1.0, 5.0]]))[0] == pytest.approx(0.7310586)
    assert pairwise_accuracy(head, np.array([[1.0, 0.0]]), np.array([[1.0, 9.0]])) == 0.5
    with pytest.raises(ValueError):
        fit_bradley_terry_head(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros(2), l2=0.0)


def test_learned_reliability_finds_the_spammers_and_discounts_their_labels():
    rng = np.random.default_rng(3)
    true_weights = rng.normal(size=10)
    first, second = rng.normal(size=(800, 10)), rng.normal(size=(800, 10))
    truth = (rng.random(800) < sigmoid(3 * (first - second) @ true_weights)).astype(float)
    annotators = np.array(["careful-1", "careful-2", "random", "always-first"] * 200)
    labels = np.where(annotators == "random", (rng.random(800) < 0.5).astype(float),
                      np.where(annotators == "always-first", 1.0, truth))
    head, reliability, judgement_weights = fit_with_annotator_reliability(first, second, labels, annotators, l2=1.0)
    assert reliability["careful-1"] > 0.85 and reliability["careful-2"] > 0.85
    # A random spammer agrees with the truth half the time, and those labels look real: about 0.5.
    assert reliability["random"] < 0.6 and reliability["always-first"] < 0.6
    # each judgement's weight: the careful annotators' count almost fully, the spammers' far less
    assert judgement_weights[annotators == "careful-1"].mean() > 0.8
    assert judgement_weights[annotators == "always-first"].mean() < 0.6
    plain = fit_bradley_terry_head(first, second, labels, l2=1.0)

    def cosine(weights):
        return weights @ true_weights / np.linalg.norm(weights) / np.linalg.norm(true_weights)

    assert cosine(head.weights) > cosine(plain.weights)

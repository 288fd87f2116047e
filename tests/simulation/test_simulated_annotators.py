"""The simulated annotators choose with the probabilities their profiles promise."""
import random

import pytest
from scipy.stats import binomtest, chisquare

from simulation.simulated_annotators import (
    ALWAYS_LEFT,
    BRADLEY_TERRY,
    RANDOM_SPAMMER,
    AnnotatorProfile,
    choose_ranking,
    choose_strength,
    default_profiles,
    probability_left_preferred,
)

DRAWS = 4000


def left_share(profile, reward_left, reward_right, seed=0, draws=DRAWS):
    rng = random.Random(seed)
    return sum(choose_ranking(profile, [reward_left, reward_right], rng)[0] == 0 for _ in range(draws))


@pytest.mark.parametrize(
    "temperature, reward_left, reward_right, expected",
    [
        (1.0, 1.0, 0.0, 0.7310585786),  # sigmoid(1), computed by hand
        (0.5, 1.0, 0.0, 0.8807970780),  # sigmoid(2)
        (2.0, -1.0, 1.0, 0.2689414214),  # sigmoid(-1)
        (1.0, 0.3, 0.3, 0.5),
    ],
)
def test_bradley_terry_choice_frequencies_match_the_probabilities(temperature, reward_left, reward_right, expected):
    profile = AnnotatorProfile("careful", temperature=temperature)
    assert probability_left_preferred(profile, reward_left, reward_right) == pytest.approx(expected, abs=1e-9)

    wins = left_share(profile, reward_left, reward_right)

    # A fixed seed makes this deterministic; the test still fails if the sampler is off by more
    # than sampling noise (two-sided binomial test at the 0.1% level, 4000 draws).
    assert binomtest(wins, DRAWS, expected).pvalue > 0.001
    assert abs(wins / DRAWS - expected) < 0.03


def test_a_noisier_annotator_agrees_less_with_the_gold_reward():
    careful = left_share(AnnotatorProfile("careful", temperature=0.5), 1.0, 0.0)
    noisy = left_share(AnnotatorProfile("noisy", temperature=3.0), 1.0, 0.0)
    assert careful > noisy + 0.2 * DRAWS


def test_position_bias_shifts_choices_to_the_left_by_its_logit():
    profile = AnnotatorProfile("biased", temperature=1.0, position_bias=1.5)
    # Equal rewards: the bias alone decides, P(left) = sigmoid(1.5).
    expected = 0.8175744762
    assert probability_left_preferred(profile, 0.0, 0.0) == pytest.approx(expected)
    wins = left_share(profile, 0.0, 0.0)
    assert binomtest(wins, DRAWS, expected).pvalue > 0.001
    # The same pair shown the other way round: the bias follows the side, not the response.
    assert left_share(profile, 2.0, 0.0) > left_share(profile, 0.0, 2.0) + 0.3 * DRAWS


def test_a_random_spammer_picks_each_side_half_the_time_regardless_of_quality():
    profile = AnnotatorProfile("spam", behavior=RANDOM_SPAMMER)
    wins = left_share(profile, 5.0, -5.0)
    assert binomtest(wins, DRAWS, 0.5).pvalue > 0.001


def test_an_always_left_spammer_always_picks_the_first_shown():
    profile = AnnotatorProfile("lefty", behavior=ALWAYS_LEFT)
    assert left_share(profile, -5.0, 5.0) == DRAWS
    assert choose_ranking(profile, [0.0, 9.0, 3.0], random.Random(0)) == [0, 1, 2]


def test_rankings_of_three_follow_plackett_luce():
    profile = AnnotatorProfile("careful", temperature=1.0)
    rng = random.Random(1)
    rewards = [0.0, 1.0, 2.0]
    firsts = [0, 0, 0]
    for _ in range(DRAWS):
        ranking = choose_ranking(profile, rewards, rng)
        assert sorted(ranking) == [0, 1, 2]
        firsts[ranking[0]] += 1
    import math

    weights = [math.exp(r) for r in rewards]
    expected = [DRAWS * w / sum(weights) for w in weights]
    assert chisquare(firsts, expected).pvalue > 0.001


def test_strength_grows_with_the_gold_gap_for_careful_annotators():
    profile = AnnotatorProfile("careful", temperature=1.0)
    rng = random.Random(0)
    assert [choose_strength(profile, gap, rng) for gap in (0.1, 1.0, 2.0, 4.0)] == [1, 2, 3, 4]


def test_default_crowd_mixes_careful_biased_and_spamming_annotators():
    profiles = default_profiles(8, seed=3)
    behaviors = [profile.behavior for profile in profiles]
    assert behaviors.count(RANDOM_SPAMMER) == 1
    assert behaviors.count(ALWAYS_LEFT) == 1
    assert behaviors.count(BRADLEY_TERRY) == 6
    assert sum(profile.position_bias > 0 for profile in profiles) == 1
    assert len({profile.username for profile in profiles}) == 8
    assert default_profiles(8, seed=3) == profiles  # deterministic


def test_a_profile_refuses_nonsense():
    with pytest.raises(ValueError):
        AnnotatorProfile("x", behavior="lazy")
    with pytest.raises(ValueError):
        AnnotatorProfile("x", temperature=0)


def test_reported_reading_times_look_human_for_careful_annotators_and_fast_for_spammers():
    from simulation.simulated_annotators import reported_time_ms

    rng = random.Random(0)
    careful = sorted(reported_time_ms(AnnotatorProfile("c"), rng) for _ in range(201))
    spam = sorted(reported_time_ms(AnnotatorProfile("s", behavior=RANDOM_SPAMMER), rng) for _ in range(201))
    assert 6000 < careful[100] < 10000
    assert spam[100] < 1500

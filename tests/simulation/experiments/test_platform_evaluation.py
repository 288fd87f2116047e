"""The loop report's human evaluation is the platform's own, refreshed through the beat's service."""
import pytest

from simulation.experiments.loop_runner import platform_evaluation
from tests.workers.test_evaluation import Loop, overoptimized_first_iteration


@pytest.mark.django_db
def test_the_report_reads_win_rates_and_the_overoptimization_flag_from_the_platform():
    # Given an over-optimized first iteration: reward 0.67 -> 0.88, annotators prefer the reference 17 to 3
    loop = Loop()
    overoptimized_first_iteration(loop, reward_before=0.67, reward_after=0.88, outcomes=["win"] * 3 + ["loss"] * 17)

    # When the loop reads the human evaluation after the evaluation tasks are judged
    human_eval = platform_evaluation(loop.iteration)

    # Then the win-rates are the platform's, in the report's shape, and the platform raised its flag
    assert human_eval["vs_reference"]["win_rate"] == pytest.approx(0.15)
    assert (human_eval["vs_reference"]["wins"], human_eval["vs_reference"]["losses"], human_eval["vs_reference"]["n"]) == (3, 17, 20)
    assert human_eval["vs_reference"]["ci_high"] < 0.5
    assert human_eval["vs_previous"] == human_eval["vs_reference"]  # iteration 1 starts from the reference
    loop.iteration.refresh_from_db()
    assert loop.iteration.overoptimization_flag
    assert loop.iteration.summary["evaluation"]["win_rates"][0]["n_judgements"] == 20

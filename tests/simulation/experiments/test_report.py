"""The loop report writer: report.json, three PNG plots and a markdown summary."""
import json
import math

import pytest

from simulation.experiments.measure import mean_with_standard_error, overoptimization_detected
from simulation.experiments.report import PLOT_FILES, verdict, write_report


def synthetic_results(final_gold=1.2, final_kl=4.0):
    def iteration(number, gold, kl, flag=False, gold_flag=False):
        return {
            "number": number, "status": "succeeded", "duration_s": 10.0,
            "judgements": 40, "judgements_total": 40 * number, "agreement": 0.7 + 0.02 * number,
            "reward_model": {"n_pairs": 20 * number, "gold_accuracy": 0.6 + 0.1 * number, "n_eval_pairs": 60},
            "policy": {"name": f"policy-{number}", "gold": {"mean": gold, "standard_error": 0.1, "n": 64},
                       "proxy_mean": 0.5 * number, "kl_to_reference": kl},
            "human_eval": {"vs_previous": {"win_rate": 0.625, "ci_low": 0.25, "ci_high": 1.0, "wins": 2, "ties": 1,
                                           "losses": 1, "n": 4},
                           "vs_reference": None},
            "overoptimization": {"flag": flag, "reason": "the reward rose while annotators prefer 'base'" if flag else "",
                                 "gold_flag": gold_flag, "gold_reason": "proxy up, gold down" if gold_flag else ""},
            "ppo_steps": [{"step": s, "kl": kl * s / 5, "proxy_reward": 0.1 * s} for s in range(1, 6)],
        }

    return {
        "config": {"iterations": 3, "annotators": 6, "kl_budget": 6.0, "algorithm": "ppo", "seed": 0},
        "base": {"gold": {"mean": -1.0, "standard_error": 0.1, "n": 64}},
        "iterations": [iteration(1, -0.4, 1.0), iteration(2, 0.5, 2.5), iteration(3, final_gold, final_kl)],
        "agreement_timeline": [{"judgements": n, "agreement": 0.7} for n in (10, 20, 40, 80, 120)],
        "active_selection": {
            "target_accuracy": 0.8,
            "curves": {"random": [{"labels": 50, "accuracy": 0.7}, {"labels": 100, "accuracy": 0.8}],
                       "uncertainty": [{"labels": 50, "accuracy": 0.8}]},
            "labels_needed": {"random": 100, "uncertainty": 50}, "label_reduction": 0.5,
        },
        "active_selection_as_built": {
            "target_accuracy": 0.89, "labels_needed": {"random": 2000, "uncertainty": 1430}, "label_reduction": 0.58,
        },
    }


def test_the_report_folder_has_json_plots_and_summary(tmp_path):
    paths = write_report(synthetic_results(), tmp_path / "report")

    document = json.loads(paths["json"].read_text())
    assert document["report_version"] == 1
    assert [it["number"] for it in document["iterations"]] == [1, 2, 3]
    first = document["iterations"][0]
    for key in ("judgements", "agreement", "reward_model", "policy", "human_eval", "overoptimization"):
        assert key in first
    assert document["verdict"]["passed"] is True
    for name in PLOT_FILES.values():
        data = (tmp_path / "report" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    summary = paths["summary"].read_text()
    assert "PASS" in summary and "| 3 | succeeded |" in summary
    assert PLOT_FILES["gold_proxy_vs_kl"] in summary
    assert "refitted after every batch: labels needed to reach 0.8 gold accuracy — random 100, uncertainty 50" in summary
    assert "as the platform runs it (ranked once per iteration; the saving counts the second iteration's labels): " \
           "labels needed to reach 0.89 gold accuracy — random 2000, uncertainty 1430 (0.58 fewer)" in summary


def test_the_verdict_fails_over_the_kl_budget_or_without_enough_improvement():
    assert verdict(synthetic_results(final_kl=9.0))["passed"] is False
    # -1.0 -> -0.7 with SE 0.1 each: 2.1 standard errors, short of 3.
    assert verdict(synthetic_results(final_gold=-0.7))["passed"] is False
    assert verdict({"iterations": []})["passed"] is False


def test_unmeasured_values_are_written_as_null_and_plots_still_render(tmp_path):
    results = synthetic_results()
    results["iterations"][2]["policy"] = None
    results["iterations"][1]["agreement"] = float("nan")
    paths = write_report(results, tmp_path)
    document = json.loads(paths["json"].read_text())
    assert document["iterations"][1]["agreement"] is None
    assert document["iterations"][2]["policy"] is None


def test_mean_and_standard_error_by_hand():
    estimate = mean_with_standard_error([1.0, 2.0, 3.0, 4.0])
    assert estimate.mean == 2.5
    assert estimate.standard_error == pytest.approx(math.sqrt(1.6666667) / 2)
    assert estimate.n == 4


def test_overoptimization_is_flagged_only_when_proxy_rises_and_gold_falls_significantly():
    before = mean_with_standard_error([1.0, 1.2, 0.8, 1.1, 0.9] * 4)
    after = mean_with_standard_error([0.0, 0.2, -0.2, 0.1, -0.1] * 4)
    assert overoptimization_detected(proxy_before=0.1, proxy_after=2.0, gold_before=before, gold_after=after)[0]
    assert not overoptimization_detected(proxy_before=2.0, proxy_after=0.1, gold_before=before, gold_after=after)[0]
    assert not overoptimization_detected(proxy_before=0.1, proxy_after=2.0, gold_before=after, gold_after=before)[0]


def test_the_summary_shows_the_platform_monitor_and_the_gold_check_apart(tmp_path):
    results = synthetic_results()
    results["iterations"][1]["overoptimization"] = {
        "flag": True, "reason": "the reward rose (0.5 -> 0.9) while annotators prefer 'base'",
        "gold_flag": False, "gold_reason": ""}
    results["iterations"][2]["overoptimization"] = {
        "flag": False, "reason": "", "gold_flag": True, "gold_reason": "proxy up, gold down"}

    summary = write_report(results, tmp_path)["summary"].read_text()

    assert "| 0.62 [0.25, 1.00] (n=4) | – | – | no | no |" in summary  # iteration 1: neither flagged
    assert "| **FLAGGED** | no |" in summary and "| no | **FLAGGED** |" in summary
    assert "- iteration 2, platform monitor: the reward rose (0.5 -> 0.9) while annotators prefer 'base'" in summary
    assert "- iteration 3, gold check: proxy up, gold down" in summary

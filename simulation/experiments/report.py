"""The loop report: `report.json`, PNG plots and a markdown summary, written from a results dict.

Pure: no Django, no database. `manage.py loop` gathers the results; this module only writes them.
The results dict (everything JSON-serializable; None where a value could not be measured):

    {
      "config": {"iterations", "annotators", "kl_budget", "algorithm", "seed", ...},
      "base": {"gold": {"mean", "standard_error", "n"}},
      "iterations": [{
          "number", "status", "duration_s",
          "judgements", "judgements_total",            # new in this iteration, and so far
          "agreement",                                   # inter-annotator agreement (0..1)
          "reward_model": {"n_pairs", "gold_accuracy", "n_eval_pairs"},
          "policy": {"name", "gold": {"mean", "standard_error", "n"}, "proxy_mean", "kl_to_reference"},
          "human_eval": {"vs_previous": WinRate | None, "vs_reference": WinRate | None,   # the platform's
                         "reward_model_agreement": {"n", "agreement", "ci_low", "ci_high"}?},
          "overoptimization": {"flag", "reason",             # the platform's monitor (Iteration flag)
                               "gold_flag"?, "gold_reason"?},   # the world's check on the hidden gold
          "ppo_steps": [{"step", "kl", "proxy_reward", "gold_reward"?}],
      }],
      "agreement_timeline": [{"judgements", "agreement"}],    # optional
      "active_selection": {                                   # optional
          "target_accuracy", "curves": {"random": [{"labels", "accuracy"}], "uncertainty": [...]},
          "labels_needed": {"random", "uncertainty"}, "label_reduction"},
      "active_selection_as_built": {...},                     # optional, the same shape: ranked once
    }

A WinRate is {"win_rate", "ci_low", "ci_high", "wins", "ties", "losses", "n"}.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the loop runs headless
import matplotlib.pyplot as plt  # noqa: E402

from .measure import MeanEstimate, improvement_in_standard_errors  # noqa: E402

REPORT_VERSION = 1
PLOT_FILES = {
    "gold_proxy_vs_kl": "gold-and-proxy-vs-sqrt-kl.png",
    "rm_accuracy_vs_labels": "reward-model-accuracy-vs-labels.png",
    "agreement_over_time": "agreement-over-time.png",
}
# The bar for "the loop works": final gold reward above the base by this many SEs.
REQUIRED_IMPROVEMENT_SE = 3.0


def _estimate(value: dict | None) -> MeanEstimate | None:
    if not value or value.get("mean") is None:
        return None
    return MeanEstimate(value["mean"], value.get("standard_error") or 0.0, value.get("n") or 0)


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _sqrt_kl(kl) -> float | None:
    return None if kl is None else math.sqrt(max(float(kl), 0.0))


def verdict(results: dict) -> dict:
    """Whether the last iteration's policy beats the base policy on gold reward by more than
    REQUIRED_IMPROVEMENT_SE standard errors with KL within the budget."""
    base = _estimate(results.get("base", {}).get("gold"))
    finished = [it for it in results.get("iterations", []) if _estimate((it.get("policy") or {}).get("gold"))]
    if base is None or not finished:
        return {"passed": False, "reason": "no measured policy", "improvement_se": None, "kl": None}
    last = finished[-1]
    gold = _estimate(last["policy"]["gold"])
    improvement = improvement_in_standard_errors(base, gold)
    kl = last["policy"].get("kl_to_reference")
    budget = results.get("config", {}).get("kl_budget")
    within = kl is not None and (budget is None or kl <= budget)
    passed = improvement > REQUIRED_IMPROVEMENT_SE and within
    reason = (
        f"gold {base.mean:.3f}±{base.standard_error:.3f} -> {gold.mean:.3f}±{gold.standard_error:.3f} "
        f"({improvement:+.1f} SE; needs > {REQUIRED_IMPROVEMENT_SE:.0f}), KL {_fmt(kl)} "
        f"(budget {_fmt(budget)})"
    )
    return {"passed": passed, "reason": reason, "improvement_se": improvement, "kl": kl}


def plot_gold_and_proxy_vs_kl(results: dict, path: Path) -> None:
    """Gold (left axis) and proxy (right axis) reward against sqrt(KL to the reference)."""
    figure, gold_axis = plt.subplots(figsize=(7, 4.5))
    proxy_axis = gold_axis.twinx()
    base = _estimate(results.get("base", {}).get("gold"))
    xs, ys, errors, proxies, labels = [], [], [], [], []
    if base is not None:
        xs.append(0.0), ys.append(base.mean), errors.append(base.standard_error), proxies.append(None)
        labels.append("base")
    for iteration in results.get("iterations", []):
        policy = iteration.get("policy") or {}
        gold = _estimate(policy.get("gold"))
        x = _sqrt_kl(policy.get("kl_to_reference"))
        if gold is not None and x is not None:
            xs.append(x), ys.append(gold.mean), errors.append(gold.standard_error)
            proxies.append(policy.get("proxy_mean")), labels.append(f"it {iteration['number']}")
        steps = [s for s in iteration.get("ppo_steps") or []
                 if s.get("kl") is not None and s.get("proxy_reward") is not None]
        if steps:
            step_x = [_sqrt_kl(s["kl"]) for s in steps]
            proxy_axis.scatter(step_x, [s["proxy_reward"] for s in steps], color="tab:orange", alpha=0.3, s=8)
        before = policy.get("proxy_mean_before")
        if before is not None and policy.get("proxy_mean") is not None and x is not None and xs:
            # The same reward model scored the starting policy and the new one: a fair before/after.
            start_x = xs[-2] if len(xs) >= 2 else 0.0
            proxy_axis.plot([start_x, x], [before, policy["proxy_mean"]], "--", color="tab:orange", alpha=0.6, lw=1)
    if xs:
        gold_axis.errorbar(xs, ys, yerr=errors, fmt="o-", color="tab:blue", capsize=3, label="gold reward (±SE)")
        for x, y, label in zip(xs, ys, labels):
            gold_axis.annotate(label, (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
    proxy_points = [(x, p) for x, p in zip(xs, proxies) if p is not None]
    if proxy_points:
        proxy_axis.plot(*zip(*proxy_points), "s--", color="tab:orange", label="proxy reward (reward model)")
    budget = results.get("config", {}).get("kl_budget")
    if budget:
        gold_axis.axvline(math.sqrt(budget), color="grey", ls=":", lw=1, label="KL budget")
    gold_axis.set_xlabel("sqrt(KL to the reference policy)")
    gold_axis.set_ylabel("gold reward (hidden)", color="tab:blue")
    proxy_axis.set_ylabel("proxy reward (learned)", color="tab:orange")
    handles = [h for axis in (gold_axis, proxy_axis) for h in axis.get_legend_handles_labels()[0]]
    names = [n for axis in (gold_axis, proxy_axis) for n in axis.get_legend_handles_labels()[1]]
    if handles:
        gold_axis.legend(handles, names, loc="best", fontsize=8)
    gold_axis.set_title("Gold and proxy reward against KL (dots: optimizer steps; dashes: proxy before -> after)",
                        fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_reward_model_accuracy(results: dict, path: Path) -> None:
    """Reward-model accuracy on held-out gold-labelled pairs against the number of labels."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    points = [
        (it["reward_model"].get("n_pairs") or it.get("judgements_total"), it["reward_model"].get("gold_accuracy"))
        for it in results.get("iterations", [])
        if (it.get("reward_model") or {}).get("gold_accuracy") is not None
    ]
    if points:
        axis.plot(*zip(*points), "o-", color="tab:green", label="loop's reward models")
    active = results.get("active_selection") or {}
    seeds = len(active.get("seeds") or []) or 1
    headline = active.get("headline_strategy", "uncertainty")
    target = active.get("target_accuracy")
    shown = [accuracy for _, accuracy in points]
    crossings = []
    for strategy, curve in (active.get("curves") or {}).items():
        if not curve:
            continue
        labels, accuracy = [p["labels"] for p in curve], [p["accuracy"] for p in curve]
        errors = [p.get("standard_error") or 0.0 for p in curve]
        emphasis = strategy in ("random", headline)  # the comparison the issue asks for; variants fainter
        (line,) = axis.plot(labels, accuracy, ".-", lw=2 if emphasis else 1, alpha=1.0 if emphasis else 0.7,
                            label=f"{strategy} selection")
        if any(errors):
            axis.fill_between(labels, [a - e for a, e in zip(accuracy, errors)],
                              [a + e for a, e in zip(accuracy, errors)], color=line.get_color(), alpha=0.2, lw=0)
        shown += [a - e for a, e in zip(accuracy, errors)] + [a + e for a, e in zip(accuracy, errors)]
        needed = (active.get("labels_needed") or {}).get(strategy)
        if emphasis and needed is not None and target is not None:
            crossings.append((needed, line.get_color()))
    if target is not None:
        axis.axhline(target, color="grey", ls=":", lw=1, label="target accuracy")
    axis.axhline(0.5, color="lightgrey", lw=1)
    axis.set_xlabel("labels (consensus pairs trained on)")
    axis.set_ylabel("accuracy on held-out gold-labelled pairs")
    low, high = (max(0.3, min(shown + [0.5]) - 0.03), min(1.0, max(shown) + 0.03)) if shown else (0.3, 1.0)
    axis.set_ylim(low, high)
    for needed, color in crossings:  # where random and the headline strategy reach the target
        axis.vlines(needed, low, target, color=color, ls=":", lw=1.2)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="lower right", fontsize=8)
    axis.set_title("Reward-model accuracy against labels" +
                   (f" (active selection: mean ± SE over {seeds} seeds)" if seeds > 1 else ""), fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_agreement_over_time(results: dict, path: Path) -> None:
    """Inter-annotator agreement as judgements accumulate."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    timeline = results.get("agreement_timeline") or []
    if timeline:
        axis.plot([p["judgements"] for p in timeline], [p["agreement"] for p in timeline], "-",
                  color="tab:purple", alpha=0.6, label="running agreement")
    points = [(it.get("judgements_total"), it.get("agreement")) for it in results.get("iterations", [])
              if it.get("agreement") is not None and it.get("judgements_total") is not None]
    if points:
        axis.plot(*zip(*points), "o", color="tab:purple", label="at each iteration")
        for (x, y), it in zip(points, [i for i in results["iterations"] if i.get("agreement") is not None]):
            axis.annotate(f"it {it['number']}", (x, y), textcoords="offset points", xytext=(4, 6), fontsize=8)
    axis.set_xlabel("judgements so far")
    axis.set_ylabel("pairwise agreement between annotators")
    axis.set_ylim(0.0, 1.0)
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="lower right", fontsize=8)
    axis.set_title("Annotator agreement over time")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _win(value: dict | None) -> str:
    if not value or value.get("win_rate") is None or value.get("n", 0) == 0:
        return "–"
    return f"{value['win_rate']:.2f} [{value['ci_low']:.2f}, {value['ci_high']:.2f}] (n={value['n']})"


def _agreement(value: dict | None) -> str:
    if not value or value.get("agreement") is None:
        return "–"
    return f"{value['agreement']:.2f} [{value['ci_low']:.2f}, {value['ci_high']:.2f}] (n={value['n']})"


def markdown_summary(results: dict) -> str:
    """A short human-readable summary: the verdict, a table per iteration, the plots."""
    config = results.get("config", {})
    base = _estimate(results.get("base", {}).get("gold"))
    result = verdict(results)
    lines = [
        "# Loop report",
        "",
        f"World: {results.get('world', 'synthetic')}. "
        f"{config.get('iterations', '?')} iterations, {config.get('annotators', '?')} simulated annotators, "
        f"algorithm {config.get('algorithm', '?')}, KL budget {_fmt(config.get('kl_budget'))}, seed {config.get('seed', '?')}.",
        "",
        f"**{'PASS' if result['passed'] else 'NOT MET'}**: {result['reason']}.",
        "",
    ]
    if base is not None:
        lines += [f"Base policy gold reward: {base.mean:.3f} ± {base.standard_error:.3f} (n={base.n}).", ""]
    lines += [
        "| it | status | judgements (total) | agreement | RM gold acc. | gold reward ± SE | proxy | KL | win vs prev. [95% CI] | win vs ref. [95% CI] | RM agrees with people [95% CI] | platform monitor | gold check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reasons = []
    for it in results.get("iterations", []):
        policy = it.get("policy") or {}
        gold = _estimate(policy.get("gold"))
        gold_text = f"{gold.mean:.3f} ± {gold.standard_error:.3f}" if gold else "–"
        human = it.get("human_eval") or {}
        flag = it.get("overoptimization") or {}
        lines.append(
            f"| {it['number']} | {it.get('status', '?')} | {it.get('judgements', '–')} ({it.get('judgements_total', '–')}) "
            f"| {_fmt(it.get('agreement'), 2)} | {_fmt((it.get('reward_model') or {}).get('gold_accuracy'), 2)} "
            f"| {gold_text} | {_fmt(policy.get('proxy_mean'))} | {_fmt(policy.get('kl_to_reference'))} "
            f"| {_win(human.get('vs_previous'))} | {_win(human.get('vs_reference'))} "
            f"| {_agreement(human.get('reward_model_agreement'))} "
            f"| {'**FLAGGED**' if flag.get('flag') else 'no'} | {'**FLAGGED**' if flag.get('gold_flag') else 'no'} |"
        )
        if flag.get("flag"):
            reasons.append(f"- iteration {it['number']}, platform monitor: {flag.get('reason', '')}")
        if flag.get("gold_flag"):
            reasons.append(f"- iteration {it['number']}, gold check: {flag.get('gold_reason', '')}")
    if reasons:
        lines += ["", "Overoptimization flags:", "", *reasons]
    lines += [
        "",
        "Platform monitor: the platform's own overoptimization check (`Iteration.overoptimization_flag`,",
        "from reward-model scores and human judgements only; refreshed by the beat and by the loop once",
        "the evaluation tasks are judged). Gold check: the world's check on the hidden gold reward (proxy",
        "up while gold falls by more than 2 SE), which the platform cannot see. Win-rates are the",
        "platform's (bootstrap 95% CI over tasks, ties half); \"RM agrees with people\" is how often the",
        "iteration's reward model prefers what annotators preferred on the new policy's fresh samples.",
    ]
    refreshed = results.get("platform_evaluation_refreshed")
    if refreshed:
        lines += ["", f"The platform's verdicts above were refreshed at {refreshed.get('at', '?')} "
                      f"(commit {refreshed.get('commit', '?')}): {refreshed.get('why', '')}."]
    for key, title in (("active_selection", "Active pair selection, refitted after every batch"),
                       ("active_selection_as_built", "Active pair selection as the platform runs it (ranked once "
                                                     "per iteration; the saving counts the second iteration's labels)")):
        active = results.get(key)
        if active and active.get("labels_needed"):
            needed = active["labels_needed"]
            lines += [
                "",
                f"{title}: labels needed to reach {active.get('target_accuracy')} gold accuracy — "
                f"random {needed.get('random', '–')}, uncertainty {needed.get('uncertainty', '–')} "
                f"({_fmt(active.get('label_reduction'), 2)} fewer).",
            ]
    lines += _gold_model_lines(results) + _win_rate_lines(results) + _timing_lines(results) + _samples_lines(results)
    lines += [
        "",
        "## Plots",
        "",
        f"![gold and proxy reward against sqrt(KL)]({PLOT_FILES['gold_proxy_vs_kl']})",
        f"![reward-model accuracy against labels]({PLOT_FILES['rm_accuracy_vs_labels']})",
        f"![agreement over time]({PLOT_FILES['agreement_over_time']})",
        "",
        "Gold reward is the hidden scoring function the simulated annotators judge by; the platform",
        "never sees it. Proxy reward is the learned reward model's score (each iteration's own model,",
        "so proxy values of different iterations are not on one scale). Overoptimization shows as the",
        "proxy rising while gold falls as KL grows.",
    ]
    return "\n".join(lines) + "\n"


def _gold_model_lines(results: dict) -> list[str]:
    gold = results.get("gold_model")
    if not gold:
        return []
    settings = gold.get("settings", {})
    lines = ["", "## The gold reward", "",
             f"A reward model learned from real human preferences: {settings.get('base_model', '?')} trained on "
             f"{gold.get('n_train_pairs', '?')} HH pairs (every pair whose request is not held out), "
             f"{settings.get('epochs', '?')} epoch(s), lr {settings.get('lr', '?')}, max_length "
             f"{settings.get('max_length', '?')}, in {gold.get('seconds', '?')} s; frozen. Its accuracy on the "
             f"{gold.get('n_held_out_pairs', '?')} human pairs of the held-out requests: "
             f"{_fmt(gold.get('held_out_accuracy'), 3)}. The platform never sees it."]
    degenerate = gold.get("degenerate_check")
    if degenerate:
        kinds = ", ".join(f"{kind.replace('_', ' ')} {_fmt(float(share), 2)}" for kind, share in degenerate["by_kind"].items())
        lines += ["", f"It also learned from {gold.get('n_degenerate_pairs', '?')} pairs of a human answer against a "
                      f"degenerate copy of it (runs of punctuation, one word repeated, shuffled words, random "
                      f"letters, nothing), so that a policy collapsing into such text loses gold reward. On the "
                      f"held-out requests it ranks the human answer above such a copy {_fmt(float(degenerate['accuracy']), 3)} "
                      f"of the time (n={degenerate['n']}; {kinds})."]
    return lines


def _win_rate_lines(results: dict) -> list[str]:
    rows = [(it["number"], (it.get("policy") or {}).get("gold_win_rate_vs_base"),
             (it.get("human_eval") or {}).get("vs_reference")) for it in results.get("iterations", [])]
    if not any(gold for _, gold, _ in rows):
        return []
    lines = ["", "## Win-rate against the base policy", "",
             "| it | by the gold reward, same held-out requests [95% CI] | by the simulated annotators on the platform [95% CI] |",
             "|---|---|---|"]
    for number, gold, human in rows:
        lines.append(f"| {number} | {_win(gold)} | {_win(human)} |")
    lines += ["", "Gold: each new sample against the base sample of the same rank to the same request (ties "
                  "half; bootstrap over requests). Annotators: the platform's blind evaluation tasks."]
    return lines


def _timing_lines(results: dict) -> list[str]:
    iterations = [it for it in results.get("iterations", []) if it.get("steps")]
    if not iterations:
        return []
    steps = list(dict.fromkeys(step for it in iterations for step in it["steps"]))
    lines = ["", "## How long each step took (seconds)", "",
             "| it | annotation | " + " | ".join(steps) + " | measurement | iteration in all |",
             "|---|---|" + "---|" * len(steps) + "---|---|"]
    for it in iterations:
        cells = [_fmt((it["steps"].get(step) or {}).get("seconds"), 1) for step in steps]
        lines.append(f"| {it['number']} | {_fmt(it.get('annotation_seconds'), 1)} | " + " | ".join(cells)
                     + f" | {_fmt((it.get('policy') or {}).get('measure_seconds'), 1)} | {_fmt(it.get('duration_s'), 1)} |")
    base = results.get("base", {}).get("measure_seconds")
    if base is not None:
        lines += ["", f"Measuring the base policy took {base} s."]
    return lines


def _cell(text: str, limit: int = 280) -> str:
    text = " ".join(str(text or "").split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _samples_lines(results: dict) -> list[str]:
    rows = results.get("samples_table")
    if not rows:
        return []
    lines = ["", "## Before and after: the same requests", "",
             "One sample of the base policy and of the last one (same seed), with the gold reward of each.", "",
             "| request | base policy | gold | last policy | gold |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {_cell(row['prompt'], 160)} | {_cell(row['before'])} | {_fmt(row.get('before_gold'), 2)} "
                     f"| {_cell(row['after'])} | {_fmt(row.get('after_gold'), 2)} |")
    return lines


def _json_safe(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def write_report(results: dict, folder: Path) -> dict[str, Path]:
    """Writes report.json, the three PNG plots and summary.md into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    document = _json_safe({"report_version": REPORT_VERSION, **results, "verdict": results.get("verdict") or verdict(results)})
    paths = {"json": folder / "report.json", "summary": folder / "summary.md"}
    paths["json"].write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    for key, plot in (("gold_proxy_vs_kl", plot_gold_and_proxy_vs_kl),
                      ("rm_accuracy_vs_labels", plot_reward_model_accuracy),
                      ("agreement_over_time", plot_agreement_over_time)):
        paths[key] = folder / PLOT_FILES[key]
        plot(results, paths[key])
    paths["summary"].write_text(markdown_summary(results), encoding="utf-8")
    return paths

"""Human evaluation of the training loop, computed from judgements as they arrive.

- Win-rate of an iteration's new policy over each opponent (the previous policy, the reference)
  on its blind evaluation tasks: a win counts 1, a tie 1/2; 95% CI by bootstrap over tasks.
- A Bradley-Terry leaderboard of all policy versions of a project (like Chatbot Arena's), from
  every human judgement comparing two policies' responses; 95% CI by bootstrap over judgements.
- The overoptimization monitor: does the reward model still agree with annotators on the new
  policy's fresh samples, and does the reward rise while humans prefer the previous policy or
  the reference?
"""
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from annotation.models import ComparisonTask, Iteration, Judgement, PolicyVersion, Project, Response

BOOTSTRAP_SAMPLES = 2000
LEADERBOARD_BOOTSTRAP_SAMPLES = 200
# Elo-like display scale of Bradley-Terry strengths (Chatbot Arena's): 400 points = 10x odds.
ELO_SCALE = 400 / math.log(10)
ELO_ANCHOR = 1000.0
# A weak Gaussian prior on log-strengths keeps a policy that never lost (or never won) finite.
BT_PRIOR = 0.01
# Fewer human-judged pairs than this cannot show a reward model below chance with any confidence.
MIN_AGREEMENT_PAIRS = 10
# A win-rate on fewer evaluation tasks flags nothing: 2 lost tasks of 2 give a bootstrap CI of
# [0, 0] (a false alarm seen in a real-model loop run); 6 of 6 happen by chance 1 time in 64.
MIN_WIN_RATE_TASKS = 6


@dataclass(frozen=True)
class PairVerdict:
    """One human judgement between two responses: `score` of the first (1 win, 0.5 tie, 0 loss)."""

    task_id: int
    first: int
    second: int
    score: float


def _pair_score(ranking: list, first: int, second: int) -> float | None:
    """1 if `first` is ranked above `second`, 0.5 if they share a tier, 0 if below; None if absent."""
    tier_of = {response_id: index for index, tier in enumerate(ranking or []) for response_id in tier}
    if first not in tier_of or second not in tier_of:
        return None
    if tier_of[first] == tier_of[second]:
        return 0.5
    return 1.0 if tier_of[first] < tier_of[second] else 0.0


def _current_human_judgements(**filters):
    return Judgement.objects.filter(replaced_by__isnull=True, is_ai=False, **filters)


def _bootstrap_mean_ci(groups: list[list[float]], samples: int, seed: int = 0) -> tuple[float, float]:
    """95% percentile CI of the mean of all values, resampling whole groups (tasks)."""
    if not groups:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    sums = np.array([sum(g) for g in groups])
    counts = np.array([len(g) for g in groups])
    picks = rng.integers(0, len(groups), size=(samples, len(groups)))
    means = sums[picks].sum(axis=1) / np.maximum(counts[picks].sum(axis=1), 1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def win_rate(*, iteration: Iteration, opponent: PolicyVersion, purpose: str = ComparisonTask.Purpose.EVALUATION) -> dict:
    """The new policy's human win-rate over `opponent` on the iteration's tasks of `purpose`."""
    new_policy_id = iteration.policy_after_id
    scores_by_task: dict[int, list[float]] = defaultdict(list)
    responses = dict(Response.objects.filter(
        tasks__iteration=iteration, tasks__purpose=purpose, policy_version_id__in=[new_policy_id, opponent.pk]
    ).values_list("pk", "policy_version_id"))
    for judgement in _current_human_judgements(task__iteration=iteration, task__purpose=purpose).values(
        "task_id", "ranking"
    ):
        ids = [response_id for tier in judgement["ranking"] for response_id in tier]
        new_ids = [r for r in ids if responses.get(r) == new_policy_id]
        other_ids = [r for r in ids if responses.get(r) == opponent.pk]
        if len(new_ids) != 1 or len(other_ids) != 1:
            continue
        score = _pair_score(judgement["ranking"], new_ids[0], other_ids[0])
        if score is not None:
            scores_by_task[judgement["task_id"]].append(score)
    groups = list(scores_by_task.values())
    values = [s for g in groups for s in g]
    low, high = _bootstrap_mean_ci(groups, BOOTSTRAP_SAMPLES, seed=iteration.pk)
    return {
        "opponent": opponent.name,
        "n_judgements": len(values),
        "n_tasks": len(groups),
        "wins": sum(1 for s in values if s == 1.0),
        "ties": sum(1 for s in values if s == 0.5),
        "losses": sum(1 for s in values if s == 0.0),
        "win_rate": (sum(values) / len(values)) if values else None,
        "ci_low": low if values else None,
        "ci_high": high if values else None,
    }


def reward_model_agreement(*, iteration: Iteration) -> dict:
    """How often the iteration's reward model prefers what annotators preferred, on the training
    tasks built from the new policy's fresh samples (ties left out); 95% bootstrap CI."""
    reward_model_id = str(iteration.reward_model_id)
    rewards = {
        pk: (metadata or {}).get("rewards", {}).get(reward_model_id)
        for pk, metadata in Response.objects.filter(
            tasks__iteration=iteration, tasks__purpose=ComparisonTask.Purpose.TRAINING
        ).values_list("pk", "metadata")
    }
    agreements: list[list[float]] = []
    for ranking in _current_human_judgements(
        task__iteration=iteration, task__purpose=ComparisonTask.Purpose.TRAINING
    ).values_list("ranking", flat=True):
        if len(ranking) != 2 or len(ranking[0]) != 1 or len(ranking[1]) != 1:
            continue
        preferred, other = ranking[0][0], ranking[1][0]
        if rewards.get(preferred) is None or rewards.get(other) is None or rewards[preferred] == rewards[other]:
            continue
        agreements.append([1.0 if rewards[preferred] > rewards[other] else 0.0])
    low, high = _bootstrap_mean_ci(agreements, BOOTSTRAP_SAMPLES, seed=iteration.pk)
    n = len(agreements)
    return {
        "n": n,
        "agreement": (sum(a[0] for a in agreements) / n) if n else None,
        "ci_low": low if n else None,
        "ci_high": high if n else None,
    }


def _previous_iteration(iteration: Iteration) -> Iteration | None:
    return (Iteration.objects.filter(project_id=iteration.project_id, number__lt=iteration.number,
                                     status=Iteration.Status.SUCCEEDED).order_by("-number").first())


def overoptimization_check(*, iteration: Iteration, agreement: dict, win_rates: list[dict]) -> tuple[bool, str]:
    """Flags the iteration when (a) the reward model's agreement with annotators on the new
    policy's fresh samples is below chance (CI entirely below 1/2, at least
    MIN_AGREEMENT_PAIRS pairs) or dropped below the previous iteration's by more than that one's
    CI half-width, or (b) the reward model scores the new policy above an opponent (the previous
    policy or the reference) while annotators prefer that opponent (win-rate CI entirely below 1/2,
    at least MIN_WIN_RATE_TASKS evaluation tasks).

    The rewards come from the generate step, which scored every policy's samples on the same train
    prompts with this iteration's reward model: one model, so one scale."""
    reasons = []
    if (agreement["agreement"] is not None and agreement["n"] >= MIN_AGREEMENT_PAIRS
            and agreement["ci_high"] < 0.5):
        # The reward model orders the new policy's samples against people's choices: the policy
        # found what the reward model overrates (Gao et al.'s proxy/gold divergence, seen on-policy).
        reasons.append(
            f"the reward model disagrees with annotators on the new policy's samples (agreement "
            f"{agreement['agreement']:.2f}, CI up to {agreement['ci_high']:.2f}, n={agreement['n']})"
        )
    previous = _previous_iteration(iteration)
    if previous is not None and agreement["agreement"] is not None:
        before = reward_model_agreement(iteration=previous)
        if before["agreement"] is not None:
            half_width = (before["ci_high"] - before["ci_low"]) / 2
            if agreement["agreement"] < before["agreement"] - half_width:
                reasons.append(
                    f"reward-model agreement with annotators fell from {before['agreement']:.2f} "
                    f"(iteration {previous.number}) to {agreement['agreement']:.2f}"
                )
    generate = iteration.jobs.filter(step="generate").first()
    metrics = (generate.metrics if generate else {}) or {}
    new_policy = iteration.policy_after
    new_reward = metrics.get(f"reward_mean_{new_policy.name}") if new_policy is not None else None
    for versus in win_rates:
        old_reward = metrics.get(f"reward_mean_{versus['opponent']}")
        if (new_reward is not None and old_reward is not None and new_reward > old_reward
                and versus["ci_high"] is not None and versus["ci_high"] < 0.5
                and (versus.get("n_tasks") or 0) >= MIN_WIN_RATE_TASKS):
            reasons.append(
                f"the reward rose ({old_reward:.3f} -> {new_reward:.3f}) while annotators prefer "
                f"{versus['opponent']!r} (win-rate {versus['win_rate']:.2f}, CI up to {versus['ci_high']:.2f}, "
                f"n={versus['n_judgements']})"
            )
    return bool(reasons), "; ".join(reasons)


def iteration_evaluation(*, iteration: Iteration) -> dict:
    """The human evaluation of an iteration: win-rates over the previous policy and the reference,
    the reward model's agreement with annotators, and the overoptimization verdict."""
    if iteration.policy_after_id is None:
        return {"win_rates": [], "reward_model_agreement": None, "overoptimization": None}
    opponents = {}
    if iteration.policy_before_id and iteration.policy_before_id != iteration.policy_after_id:
        opponents[iteration.policy_before_id] = iteration.policy_before
    reference = PolicyVersion.objects.filter(project_id=iteration.project_id, is_reference=True).first()
    if reference is not None:
        opponents.setdefault(reference.pk, reference)
    win_rates = [win_rate(iteration=iteration, opponent=o) for o in opponents.values()]
    agreement = reward_model_agreement(iteration=iteration)
    flagged, reason = overoptimization_check(iteration=iteration, agreement=agreement, win_rates=win_rates)
    return {
        "win_rates": win_rates,
        "reward_model_agreement": agreement,
        "overoptimization": {"flagged": flagged, "reason": reason},
    }


def _policy_verdicts(project: Project) -> tuple[list[PolicyVersion], np.ndarray]:
    """Every human judgement between two policies' responses as rows (winner index, loser index,
    weight): a strict preference is one row of weight 1, a tie two rows of weight 1/2."""
    policies = list(PolicyVersion.objects.filter(project=project).select_related("iteration").order_by("pk"))
    index = {p.pk: i for i, p in enumerate(policies)}
    owner = dict(Response.objects.filter(prompt__project=project, policy_version__isnull=False)
                 .values_list("pk", "policy_version_id"))
    rows = []
    for ranking in _current_human_judgements(project=project).values_list("ranking", flat=True):
        ids = [(r, owner.get(r)) for tier in ranking for r in tier]
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                (ra, pa), (rb, pb) = ids[a], ids[b]
                if pa is None or pb is None or pa == pb:
                    continue
                score = _pair_score(ranking, ra, rb)
                if score == 1.0:
                    rows.append((index[pa], index[pb], 1.0))
                elif score == 0.0:
                    rows.append((index[pb], index[pa], 1.0))
                elif score == 0.5:
                    rows += [(index[pa], index[pb], 0.5), (index[pb], index[pa], 0.5)]
    return policies, np.array(rows, dtype=float).reshape(-1, 3)


def bradley_terry(rows: np.ndarray, n_players: int, iterations: int = 500) -> np.ndarray:
    """Log-strengths theta (n_players,) maximizing sum w * log sigmoid(theta_win - theta_lose)
    - BT_PRIOR/2 * |theta|^2, by Newton steps (the problem is small and concave).

    rows: (n, 3) float array of (winner index, loser index, weight).
    """
    theta = np.zeros(n_players)
    if len(rows) == 0:
        return theta
    winners, losers, weights = rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2]
    for _ in range(iterations):
        p_win = 1 / (1 + np.exp(-(theta[winners] - theta[losers])))
        residual = weights * (1 - p_win)
        gradient = np.bincount(winners, residual, n_players) - np.bincount(losers, residual, n_players)
        gradient -= BT_PRIOR * theta
        curvature = weights * p_win * (1 - p_win)
        hessian = np.diag(np.bincount(winners, curvature, n_players) + np.bincount(losers, curvature, n_players))
        np.add.at(hessian, (winners, losers), -curvature)
        np.add.at(hessian, (losers, winners), -curvature)
        hessian += BT_PRIOR * np.eye(n_players)
        step = np.linalg.solve(hessian, gradient)
        theta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return theta


def policy_leaderboard(*, project: Project) -> list[dict]:
    """Bradley-Terry scores of the project's policies on an Elo-like scale (the reference at
    1000), with 95% bootstrap CIs and the number of judgements each took part in; best first."""
    policies, rows = _policy_verdicts(project)
    if not policies:
        return []
    anchor = next((i for i, p in enumerate(policies) if p.is_reference), 0)

    def scores(sample: np.ndarray) -> np.ndarray:
        theta = bradley_terry(sample, len(policies))
        return ELO_ANCHOR + ELO_SCALE * (theta - theta[anchor])

    point = scores(rows)
    if len(rows):
        rng = np.random.default_rng(project.pk)
        boot = np.array([scores(rows[rng.integers(0, len(rows), len(rows))])
                         for _ in range(LEADERBOARD_BOOTSTRAP_SAMPLES)])
        lows, highs = np.percentile(boot, [2.5, 97.5], axis=0)
    else:
        lows = highs = point
    games = np.bincount(rows[:, 0].astype(int), rows[:, 2], len(policies)) + np.bincount(
        rows[:, 1].astype(int), rows[:, 2], len(policies)) if len(rows) else np.zeros(len(policies))
    board = [
        {"policy": p.name, "policy_id": p.pk, "is_reference": p.is_reference,
         "iteration": p.iteration.number if p.iteration_id else None,
         "score": round(float(point[i]), 1), "ci_low": round(float(lows[i]), 1),
         "ci_high": round(float(highs[i]), 1), "n_judgements": round(float(games[i]), 1)}
        for i, p in enumerate(policies)
    ]
    return sorted(board, key=lambda row: -row["score"])

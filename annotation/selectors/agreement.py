"""The agreement report of a project: inter-annotator agreement and per-annotator quality.

Judgements are read in bulk into numpy arrays (`judgement_arrays`), every statistic is computed
on whole arrays, and the heavy part is cached for a short time under the project's latest
judgement id, so a new or replaced judgement is seen at once.
"""
import datetime as dt
import hashlib

import numpy as np
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Max

from annotation.analytics.agreement import fleiss_kappa, percent_agreement, value_counts
from annotation.analytics.alpha import alpha_from_value_counts
from annotation.analytics.annotators import (
    binomial_greater,
    binomial_two_sided_half,
    group_median,
    group_sum,
    leave_one_out_agreement,
    safe_ratio,
)
from annotation.analytics.rankings import TIE
from annotation.analytics.spam import AnnotatorSignals, flagged_reasons
from annotation.models import ComparisonTask, Judgement, Membership, Project
from annotation.selectors.consensus import annotator_reliability
from annotation.selectors.gold import gold_judgement_correct
from annotation.selectors.judgement_arrays import (
    EPOCH,
    GOLD,
    PairVotes,
    gold_pair_outcomes,
    project_judgements,
    skipped_assignments_by_annotator,
)

# Three nominal values per response pair: lower id preferred, higher id preferred, tie.
N_OUTCOMES = 3
CACHE_SECONDS = 60
# A coin flip agrees with a binary majority half the time.
CHANCE_RATE = 0.5


def _number(value) -> float | None:
    """A JSON-safe float: None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def agreement_summary(votes: PairVotes, *, n_judgements: int) -> dict:
    """Alpha (nominal), percent agreement, Fleiss' kappa and counts for one set of pair votes."""
    unit, n_units = votes.units()
    counts = value_counts(unit, votes.outcome, n_units=n_units, n_values=N_OUTCOMES)
    return _summary_of_counts(counts, n_judgements=n_judgements)


def _summary_of_counts(counts: np.ndarray, *, n_judgements: int) -> dict:
    return {
        "krippendorff_alpha": _number(alpha_from_value_counts(counts, level="nominal")),
        "percent_agreement": _number(percent_agreement(counts)),
        "fleiss_kappa": _number(fleiss_kappa(counts)),
        "n_items": int((counts.sum(axis=1) >= 2).sum()),
        "n_judgements": int(n_judgements),
    }


def _by_day(votes: PairVotes, judgement_day: np.ndarray) -> list[dict]:
    """Agreement per UTC day; a unit counts on the day of its latest vote (when it got complete)."""
    if len(votes) == 0:
        return []
    unit, n_units = votes.units()
    counts = value_counts(unit, votes.outcome, n_units=n_units, n_values=N_OUTCOMES)
    vote_day = judgement_day[votes.row]
    unit_day = np.full(n_units, np.iinfo(np.int64).min)
    np.maximum.at(unit_day, unit, vote_day)
    order = np.argsort(unit_day, kind="stable")
    unit_day, counts = unit_day[order], counts[order]
    days, judgements_per_day = np.unique(judgement_day, return_counts=True)
    starts = np.searchsorted(unit_day, days, side="left")
    ends = np.searchsorted(unit_day, days, side="right")
    rows = []
    for day, n_judgements, start, end in zip(days, judgements_per_day, starts, ends):
        summary = _summary_of_counts(counts[start:end], n_judgements=int(n_judgements))
        rows.append({"day": (EPOCH + dt.timedelta(days=int(day))).isoformat(), **summary})
    return rows


def _gold_correct(project: Project, gold: dict, judgements) -> tuple[np.ndarray, np.ndarray]:
    """(judgement rows on gold tasks with a known answer, whether each is correct).

    Correct means the same best tier as the gold ranking, the rule the gold pause uses
    (`annotation.selectors.gold`): for a pair, the same winner or both a tie. Pairwise rows are
    checked on arrays; the few K-way gold rankings are read and checked one by one.
    """
    on_gold = np.flatnonzero(judgements.purpose == GOLD)
    if not gold or len(on_gold) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    pairwise = on_gold[judgements.pair_outcome[on_gold] >= 0]
    answers = np.array([gold.get((int(t), -1, -1), -1) for t in judgements.task_id[pairwise]], dtype=np.int64)
    known = answers >= 0
    rows, correct = [pairwise[known]], [judgements.pair_outcome[pairwise[known]] == answers[known]]
    ranked = on_gold[judgements.pair_outcome[on_gold] < 0]
    if len(ranked):
        verdicts = {
            (task_id, annotator_id): gold_judgement_correct(ranking=ranking, gold_ranking=gold_ranking)
            for task_id, annotator_id, ranking, gold_ranking in Judgement.objects.filter(
                project=project, task__purpose=ComparisonTask.Purpose.GOLD, task__gold_ranking__isnull=False,
                pair_outcome__isnull=True, replaced_by__isnull=True,
            ).values_list("task_id", "annotator_id", "ranking", "task__gold_ranking")
        }
        found = [
            (row, verdicts[key])
            for row, key in zip(ranked, zip(judgements.task_id[ranked].tolist(), judgements.annotator_id[ranked].tolist()))
            if key in verdicts
        ]
        rows.append(np.array([row for row, _ in found], dtype=np.int64))
        correct.append(np.array([hit for _, hit in found], dtype=bool))
    return np.concatenate(rows), np.concatenate(correct)


def _annotator_rows(project: Project, loaded) -> list[dict]:
    judgements, votes = loaded.judgements, loaded.votes
    annotator_ids, judgement_annotator = np.unique(judgements.annotator_id, return_inverse=True)
    n_annotators = len(annotator_ids)
    vote_annotator = judgement_annotator[votes.row]

    n = group_sum(judgement_annotator, None, n_annotators)
    median_ms = group_median(judgement_annotator, judgements.time_ms, n_annotators)

    unit, n_units = votes.units()
    score, shared = leave_one_out_agreement(unit, votes.outcome, n_units=n_units, n_values=N_OUTCOMES)
    agreement_n = group_sum(vote_annotator, shared, n_annotators)
    agreement_sum = group_sum(vote_annotator, score, n_annotators)
    agreement = safe_ratio(agreement_sum, agreement_n)
    agreement_chance_p = binomial_greater(np.round(agreement_sum), agreement_n, CHANCE_RATE)

    gold = gold_pair_outcomes(project=project)
    gold_rows, gold_hits = _gold_correct(project, gold, judgements)
    gold_accuracy = safe_ratio(
        group_sum(judgement_annotator[gold_rows], gold_hits, n_annotators),
        group_sum(judgement_annotator[gold_rows], None, n_annotators),
    )

    sided = judgements.picked_first >= 0
    left_n = group_sum(judgement_annotator[sided], None, n_annotators)
    left_k = group_sum(judgement_annotator[sided], judgements.picked_first[sided] == 1, n_annotators)
    left_rate = safe_ratio(left_k, left_n)
    left_rate_p = binomial_two_sided_half(left_k, left_n)

    # A tie: every response pair of the judgement was judged equal.
    votes_per_row = np.bincount(votes.row, minlength=len(judgements))
    ties_per_row = np.bincount(votes.row, weights=votes.outcome == TIE, minlength=len(judgements))
    is_tie = (votes_per_row > 0) & (ties_per_row == votes_per_row) & ~judgements.both_bad
    tie_rate = safe_ratio(group_sum(judgement_annotator, is_tie, n_annotators), n)
    both_bad_rate = safe_ratio(group_sum(judgement_annotator, judgements.both_bad, n_annotators), n)
    flags_raised = group_sum(judgement_annotator, judgements.flagged, n_annotators)

    # Verdict of a judgement for "constant choice": both bad, or its pair outcome (pairwise tasks).
    verdict = np.where(judgements.both_bad, 3, judgements.pair_outcome.astype(np.int64))
    has_verdict = verdict >= 0
    verdict_counts = np.bincount(
        judgement_annotator[has_verdict] * 4 + verdict[has_verdict], minlength=n_annotators * 4
    ).reshape(n_annotators, 4)
    top_verdict_share = safe_ratio(verdict_counts.max(axis=1), verdict_counts.sum(axis=1))

    reliability = annotator_reliability(project=project, votes=votes, judgements=judgements, gold=gold)
    reasons = flagged_reasons(
        AnnotatorSignals(
            n=n, median_ms=median_ms, left_rate=left_rate, left_n=left_n, left_rate_p=left_rate_p,
            top_verdict_share=top_verdict_share, agreement=agreement, agreement_n=agreement_n,
            agreement_chance_p=agreement_chance_p,
        )
    )
    rows = []
    for i, annotator_id in enumerate(annotator_ids.tolist()):
        rows.append(
            {
                "annotator_id": annotator_id,
                "n": int(n[i]),
                "median_ms": _number(median_ms[i]),
                "agreement_with_majority": _number(agreement[i]),
                "n_shared": int(agreement_n[i]),
                "gold_accuracy": _number(gold_accuracy[i]),
                "left_rate": _number(left_rate[i]),
                "left_rate_p": _number(left_rate_p[i]),
                "tie_rate": _number(tie_rate[i]),
                "both_bad_rate": _number(both_bad_rate[i]),
                "flags_raised": int(flags_raised[i]),
                "reliability": _number(reliability.get(annotator_id)),
                "flagged_reasons": reasons[i],
            }
        )
    return rows


def _computed_report(project: Project) -> dict:
    """Everything that depends on judgements only (cached)."""
    loaded = project_judgements(project=project, with_response_ids=False)
    n_judgements = len(loaded.judgements)
    report = agreement_summary(loaded.votes, n_judgements=n_judgements)
    by_criterion = {}
    for index, name in enumerate(loaded.criteria):
        criterion_votes = loaded.criterion_votes.subset(loaded.criterion_votes.criterion == index)
        judged = len(np.unique(criterion_votes.row))
        by_criterion[name] = agreement_summary(criterion_votes, n_judgements=judged)
    report["by_criterion"] = by_criterion
    report["by_day"] = _by_day(loaded.votes, loaded.judgements.day)
    report["annotators"] = _annotator_rows(project, loaded)
    return report


def _cache_key(project: Project) -> str:
    latest = Judgement.objects.filter(project=project).aggregate(latest=Max("id"))["latest"] or 0
    settings_digest = hashlib.sha256(
        repr((project.criteria, project.gold_pause_threshold)).encode()
    ).hexdigest()[:12]
    return f"agreement:v1:{project.pk}:{latest}:{settings_digest}"


def project_agreement(*, project: Project, use_cache: bool = True) -> dict:
    """The agreement report (see `annotation/api/agreement.py` for its shape).

    Pair outcomes are nominal values (lower id / higher id / tie, by response identity); a K-way
    ranking contributes one unit per response pair. `n_items` counts units with two or more values.
    """
    key = _cache_key(project) if use_cache else None
    report = cache.get(key) if key else None
    if report is None:
        report = _computed_report(project)
        if key:
            cache.set(key, report, CACHE_SECONDS)
    return _with_people(project, report)


def _with_people(project: Project, report: dict) -> dict:
    """Adds what changes without a new judgement: usernames, skips, paused status; includes annotators
    who have not judged yet."""
    memberships = {
        m.user_id: m
        for m in Membership.objects.filter(project=project).only("user_id", "role", "is_ai", "paused", "paused_reason")
    }
    skips = skipped_assignments_by_annotator(project=project)
    rows = {row["annotator_id"]: dict(row) for row in report["annotators"]}
    for user_id, membership in memberships.items():
        if membership.role == Membership.Role.ANNOTATOR and user_id not in rows:
            rows[user_id] = _empty_annotator_row(user_id)
    usernames = dict(get_user_model().objects.filter(pk__in=list(rows)).values_list("pk", "username"))
    annotators = []
    for user_id, row in rows.items():
        skipped = skips.get(user_id, 0)
        # Every submitted assignment holds exactly one current judgement.
        finished = skipped + row["n"]
        membership = memberships.get(user_id)
        row["username"] = usernames.get(user_id, str(user_id))
        row["skip_rate"] = _number(skipped / finished) if finished else None
        row["is_ai"] = bool(membership and membership.is_ai)
        row["paused"] = bool(membership and membership.paused)
        row["paused_reason"] = membership.paused_reason if membership and membership.paused else ""
        annotators.append(row)
    annotators.sort(key=lambda row: row["username"])
    return {**report, "annotators": annotators}


def _empty_annotator_row(user_id: int) -> dict:
    return {
        "annotator_id": user_id, "n": 0, "median_ms": None, "agreement_with_majority": None, "n_shared": 0,
        "gold_accuracy": None, "left_rate": None, "left_rate_p": None, "tie_rate": None,
        "both_bad_rate": None, "flags_raised": 0, "reliability": None, "flagged_reasons": [],
    }

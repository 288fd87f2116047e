"""Consensus pairs for training: judgements of each task aggregated into chosen/rejected pairs."""
from dataclasses import dataclass

import numpy as np

from annotation.analytics.dawid_skene import dawid_skene, vote_weights
from annotation.analytics.pair_votes import aggregate_pair_votes
from annotation.analytics.rankings import HIGHER_ID_WINS, TIE
from annotation.errors import DomainError
from annotation.models import ComparisonTask, Project
from annotation.selectors.judgement_arrays import (
    GOLD,
    TRAINING,
    PairVotes,
    ProjectJudgements,
    gold_pair_outcomes,
    project_judgements,
)


@dataclass(frozen=True)
class ConsensusPair:
    """One training pair. `margin` grows with the judged strength and with agreement."""

    task_id: int
    prompt_id: int
    chosen_response_id: int
    rejected_response_id: int
    margin: float
    n_judgements: int
    agreement: float


def consensus_pairs(*, project, method: str | None = None) -> list[ConsensusPair]:
    """Aggregates the current judgements of every training task of `project` into pairs.

    `method` overrides the project's `consensus_method` ("majority" or "reliability").
    Ties and both-bad verdicts are left out; a K-way ranking expands into its C(K, 2) pairs.
    AI judgements count with the project's `rlaif_weight`. `margin` = agreement x mean strength
    of the winning votes / 4 (in [0, 1]); `agreement` = winning weight / all weight on the pair.
    """
    method = method or project.consensus_method
    if method not in Project.Consensus.values:
        raise DomainError(
            f"Unknown consensus method {method!r}; use one of {', '.join(Project.Consensus.values)}.",
            field="method",
        )
    loaded = project_judgements(project=project, with_criteria=False)
    votes = loaded.votes
    judgements = loaded.judgements
    weight = np.where(judgements.is_ai[votes.row], float(project.rlaif_weight), 1.0)
    if method == Project.Consensus.RELIABILITY:
        weight = weight * annotator_vote_weights(project=project, loaded=loaded)[votes.row]

    usable = (judgements.purpose[votes.row] == TRAINING) & ~judgements.both_bad[votes.row] & (weight > 0)
    training = votes.subset(usable)
    weight = weight[usable]
    unit, n_units = training.units()
    verdicts = aggregate_pair_votes(
        unit, training.outcome, weight, judgements.strength[training.row], n_units=n_units
    )
    first = np.zeros(n_units, dtype=np.int64)
    first[unit[::-1]] = np.arange(len(unit))[::-1]
    prompt_of = dict(
        ComparisonTask.objects.filter(project=project, purpose=ComparisonTask.Purpose.TRAINING).values_list(
            "id", "prompt_id"
        )
    )
    pairs = []
    for index in np.flatnonzero(verdicts.winner >= 0):
        vote = first[index]
        lower, higher = int(training.lower_id[vote]), int(training.higher_id[vote])
        chosen, rejected = (higher, lower) if verdicts.winner[index] == HIGHER_ID_WINS else (lower, higher)
        task_id = int(training.task_id[vote])
        pairs.append(
            ConsensusPair(
                task_id=task_id,
                prompt_id=prompt_of[task_id],
                chosen_response_id=chosen,
                rejected_response_id=rejected,
                margin=round(float(verdicts.margin[index]), 6),
                n_judgements=int(verdicts.n_votes[index]),
                agreement=round(float(verdicts.agreement[index]), 6),
            )
        )
    pairs.sort(key=lambda pair: (pair.task_id, pair.chosen_response_id, pair.rejected_response_id))
    return pairs


def annotator_vote_weights(*, project: Project, loaded: ProjectJudgements) -> np.ndarray:
    """Per-judgement-row vote weight log(a / (1 - a)) from each annotator's Dawid-Skene accuracy,
    fitted on every non-tie pairwise vote of the project with gold answers as known classes."""
    reliability = annotator_reliability(project=project, votes=loaded.votes, judgements=loaded.judgements)
    annotators, annotator_index = np.unique(loaded.judgements.annotator_id, return_inverse=True)
    weights = vote_weights(np.array([reliability.get(int(a), np.nan) for a in annotators]))
    return weights[annotator_index]


def annotator_reliability(*, project: Project, votes: PairVotes, judgements, gold: dict | None = None) -> dict[int, float]:
    """{annotator id: Dawid-Skene accuracy on non-tie pair votes}; annotators without such votes are absent."""
    is_decisive = votes.outcome != TIE
    decisive = votes.subset(is_decisive)
    if len(decisive) == 0:
        return {}
    unit, n_items = votes.units()
    item = unit[is_decisive]
    annotators, worker = np.unique(judgements.annotator_id[decisive.row], return_inverse=True)
    known = np.full(n_items, -1, dtype=np.int64)
    gold = gold_pair_outcomes(project=project) if gold is None else gold
    if gold:
        on_gold = np.flatnonzero(judgements.purpose[decisive.row] == GOLD)
        for position in on_gold:
            key = (int(decisive.task_id[position]), int(decisive.lower_id[position]), int(decisive.higher_id[position]))
            answer = gold.get(key)
            if answer is not None and answer != TIE:
                known[item[position]] = answer
    result = dawid_skene(
        item, worker, decisive.outcome.astype(np.int64), n_items=n_items, n_workers=len(annotators), known=known
    )
    return {int(a): float(acc) for a, acc in zip(annotators, result.accuracy) if not np.isnan(acc)}

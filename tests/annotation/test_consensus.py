"""Consensus pairs: majority and reliability-weighted aggregation of current judgements."""
import numpy as np
import pytest

from annotation.errors import DomainError
from annotation.models import ComparisonTask, Project
from annotation.selectors.consensus import consensus_pairs
from tests.annotation.factories_qc import judge, make_member, make_project, make_task, replace

pytestmark = pytest.mark.django_db

A_WINS, B_WINS, TIE = [[0], [1]], [[1], [0]], [[0, 1]]


def test_majority_picks_the_preferred_response_with_agreement_and_margin():
    project = make_project()
    annotators = [make_member(project) for _ in range(3)]
    task = make_task(project)
    judge(task, annotators[0], A_WINS, strength=4)
    judge(task, annotators[1], A_WINS, strength=2)
    judge(task, annotators[2], B_WINS, strength=4)

    [pair] = consensus_pairs(project=project)

    a, b = task.response_ids
    assert (pair.chosen_response_id, pair.rejected_response_id) == (a, b)
    assert pair.task_id == task.pk and pair.prompt_id == task.prompt_id
    assert pair.n_judgements == 3
    assert pair.agreement == pytest.approx(2 / 3)
    # agreement x mean winning strength (4 + 2) / 2 = 3, over the scale maximum 4
    assert pair.margin == pytest.approx(2 / 3 * 3 / 4)


def test_identity_not_screen_side_decides():
    project = make_project()
    first, second = make_member(project), make_member(project)
    task = make_task(project)
    # Both prefer response B, shown on opposite sides.
    judge(task, first, B_WINS, display_order_positions=[0, 1])
    judge(task, second, B_WINS, display_order_positions=[1, 0])

    [pair] = consensus_pairs(project=project)

    assert pair.chosen_response_id == task.response_ids[1]
    assert pair.agreement == 1.0


def test_ties_split_votes_both_bad_and_non_training_tasks_are_left_out():
    project = make_project()
    annotators = [make_member(project) for _ in range(3)]
    tie_task, split_task, bad_task = make_task(project), make_task(project), make_task(project)
    gold_task = make_task(project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking=A_WINS)
    eval_task = make_task(project, purpose=ComparisonTask.Purpose.EVALUATION)
    judge(tie_task, annotators[0], TIE)
    judge(tie_task, annotators[1], TIE)
    judge(tie_task, annotators[2], A_WINS)
    judge(split_task, annotators[0], A_WINS)
    judge(split_task, annotators[1], B_WINS)
    judge(bad_task, annotators[0], A_WINS, both_bad=True)
    for other in (gold_task, eval_task):
        judge(other, annotators[0], A_WINS)

    assert consensus_pairs(project=project) == []


def test_only_the_latest_judgement_of_a_replacement_chain_counts():
    project = make_project()
    annotator = make_member(project)
    task = make_task(project)
    original = judge(task, annotator, A_WINS)
    replace(original, B_WINS)

    [pair] = consensus_pairs(project=project)

    assert pair.chosen_response_id == task.response_ids[1]
    assert pair.n_judgements == 1


def test_k_way_ranking_expands_into_all_pairs():
    project = make_project(task_type=Project.TaskType.RANKING, responses_per_task=3)
    annotator = make_member(project)
    task = make_task(project, n_responses=3)
    judge(task, annotator, [[2], [0, 1]])

    pairs = consensus_pairs(project=project)

    a, b, c = task.response_ids
    # (a, b) tied: left out; c beats both.
    assert {(p.chosen_response_id, p.rejected_response_id) for p in pairs} == {(c, a), (c, b)}


def test_ai_judgements_count_with_the_rlaif_weight():
    project = make_project(rlaif_weight=0.4)
    human, ai = make_member(project), make_member(project, is_ai=True)
    task = make_task(project)
    judge(task, human, A_WINS)
    judge(task, ai, B_WINS, is_ai=True)

    [pair] = consensus_pairs(project=project)
    assert pair.chosen_response_id == task.response_ids[0]
    assert pair.agreement == pytest.approx(1 / 1.4)

    project.rlaif_weight = 3.0
    project.save()
    [pair] = consensus_pairs(project=project)
    assert pair.chosen_response_id == task.response_ids[1]


def test_reliability_weighting_trusts_the_annotator_who_agrees_with_gold():
    """Two careless annotators outvote a careful one under majority; reliability sides with the
    careful one because gold answers and the crowd show who is reliable."""
    project = make_project()
    careful, careless_1, careless_2 = (make_member(project) for _ in range(3))
    for _ in range(12):
        gold = make_task(project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking=A_WINS)
        judge(gold, careful, A_WINS)
        judge(gold, careless_1, B_WINS)
        judge(gold, careless_2, B_WINS)
    disputed = make_task(project)
    judge(disputed, careful, A_WINS)
    judge(disputed, careless_1, B_WINS)
    judge(disputed, careless_2, B_WINS)

    [majority] = consensus_pairs(project=project, method="majority")
    [weighted] = consensus_pairs(project=project, method="reliability")

    a, b = disputed.response_ids
    assert majority.chosen_response_id == b
    assert weighted.chosen_response_id == a


def test_unknown_method_is_a_clear_400():
    project = make_project()
    with pytest.raises(DomainError) as error:
        consensus_pairs(project=project, method="vibes")
    assert error.value.http_status == 400 and "vibes" in error.value.message


def test_reliability_weighting_beats_majority_on_a_crowd_with_30_percent_spammers():
    """20 annotators, 6 of them clicking at random, 5 judgements per task on 300 tasks."""
    from tests.annotation.factories_qc import bulk_judge, bulk_pairwise_tasks

    rng = np.random.default_rng(4)
    project = make_project()
    annotators = [make_member(project) for _ in range(20)]
    accuracy = np.concatenate([np.full(6, 0.5), rng.uniform(0.7, 0.9, size=14)])
    tasks = bulk_pairwise_tasks(project, 300)
    truth = {task.pk: int(rng.integers(0, 2)) for task in tasks}  # position of the better response
    rows = []
    for task in tasks:
        for a in rng.choice(20, size=5, replace=False):
            winner = truth[task.pk] if rng.random() < accuracy[a] else 1 - truth[task.pk]
            rows.append((task, annotators[a], winner, int(rng.integers(0, 2))))
    bulk_judge(rows)
    better = {task.pk: task.response_ids[truth[task.pk]] for task in tasks}

    def share_correct(pairs):
        return sum(pair.chosen_response_id == better[pair.task_id] for pair in pairs) / len(tasks)

    majority = share_correct(consensus_pairs(project=project, method="majority"))
    weighted = share_correct(consensus_pairs(project=project, method="reliability"))

    print(f"majority {majority:.3f}, reliability-weighted {weighted:.3f}")
    assert weighted > majority + 0.01
    assert weighted > 0.85

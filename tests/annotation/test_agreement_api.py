"""GET /api/projects/{id}/agreement/ against real Postgres: agreement numbers and per-annotator quality."""
import datetime as dt

import krippendorff
import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from annotation.models import Assignment, ComparisonTask, Membership
from annotation.selectors import judgement_arrays
from annotation.selectors.agreement import project_agreement
from tests.annotation.factories_qc import judge, make_member, make_project, make_task, replace

pytestmark = pytest.mark.django_db

A_WINS, B_WINS, TIE = [[0], [1]], [[1], [0]], [[0, 1]]


def approx(value):
    """The API rounds to six decimals."""
    return pytest.approx(value, abs=2e-6)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def get_agreement(user, project):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/projects/{project.pk}/agreement/")


def by_username(body):
    return {row["username"]: row for row in body["annotators"]}


def test_roles_managers_and_engineers_only():
    project = make_project()
    manager = make_member(project, role=Membership.Role.MANAGER)
    engineer = make_member(project, role=Membership.Role.ENGINEER)
    annotator = make_member(project)
    stranger = make_member(make_project())

    assert get_agreement(manager, project).status_code == 200
    assert get_agreement(engineer, project).status_code == 200
    forbidden = get_agreement(annotator, project)
    assert forbidden.status_code == 403 and "agreement" in forbidden.json()["detail"]
    assert get_agreement(stranger, project).status_code == 404


def test_empty_project_answers_with_nulls_not_errors():
    project = make_project(criteria=["helpfulness"])
    manager = make_member(project, role=Membership.Role.MANAGER)
    make_member(project, "idle")

    body = get_agreement(manager, project).json()

    assert body["krippendorff_alpha"] is None and body["percent_agreement"] is None
    assert body["fleiss_kappa"] is None and body["n_items"] == 0 and body["n_judgements"] == 0
    assert body["by_day"] == []
    assert body["by_criterion"]["helpfulness"]["n_items"] == 0
    [idle] = body["annotators"]
    assert idle["username"] == "idle" and idle["n"] == 0 and idle["agreement_with_majority"] is None


def test_per_annotator_statistics_through_the_api():
    project = make_project(criteria=["helpfulness", "harmlessness"])
    manager = make_member(project, role=Membership.Role.MANAGER)
    ann = make_member(project, "ann")
    bob = make_member(project, "bob")
    cat = make_member(project, "cat", paused=True, paused_reason="gold accuracy 20% after 5 gold items")
    tasks = [make_task(project) for _ in range(4)]
    # ann and bob agree everywhere; cat disagrees on tasks 0 and 1.
    verdicts = {"ann": [A_WINS, A_WINS, B_WINS, TIE], "bob": [A_WINS, A_WINS, B_WINS, TIE], "cat": [B_WINS, B_WINS, B_WINS, TIE]}
    users = {"ann": ann, "bob": bob, "cat": cat}
    times = {"ann": [10_000, 20_000, 30_000, 40_000], "bob": [5_000] * 4, "cat": [60_000] * 4}
    for name, user in users.items():
        for i, task in enumerate(tasks):
            judge(task, user, verdicts[name][i], time_spent_ms=times[name][i],
                  display_order_positions=[0, 1] if i % 2 == 0 else [1, 0],
                  criteria_positions={"helpfulness": verdicts[name][i], "harmlessness": A_WINS},
                  flags=["unsafe"] if (name == "bob" and i == 0) else ())
    gold = make_task(project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking=A_WINS)
    judge(gold, ann, A_WINS)
    judge(gold, cat, B_WINS)
    judge(make_task(project), ann, A_WINS, both_bad=True)
    judge(make_task(project), ann, A_WINS, state=Assignment.State.SKIPPED)

    response = get_agreement(manager, project)

    assert response.status_code == 200
    body = response.json()
    rows = by_username(body)
    assert set(rows) == {"ann", "bob", "cat"}
    assert body["n_judgements"] == 3 * 4 + 2 + 1
    assert body["n_items"] == 5  # four shared tasks and the gold task
    # Overall alpha equals the package on the same matrix (values coded by identity).
    matrix = np.array([[0, 0, 1, 2, 0, np.nan], [0, 0, 1, 2, np.nan, np.nan], [1, 1, 1, 2, 1, np.nan]])
    matrix[0, 5] = 0  # ann's both-bad judgement: a unit of its own
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert body["krippendorff_alpha"] == approx(expected)
    assert body["fleiss_kappa"] is None  # the gold task has 2 raters, the others 3

    assert rows["ann"]["n"] == 6 and rows["bob"]["n"] == 4
    assert rows["ann"]["median_ms"] == approx(20_000)  # 10, 20, 20 (gold), 20 (both bad), 30, 40 s
    assert rows["bob"]["median_ms"] == 5_000
    # ann: others' majority on task 0 and 1 is a tie between bob (A) and cat (B) -> 1/2 credit each.
    assert rows["ann"]["agreement_with_majority"] == approx((0.5 + 0.5 + 1 + 1 + 0) / 5)
    assert rows["cat"]["agreement_with_majority"] == approx((0 + 0 + 1 + 1 + 0) / 5)
    assert rows["ann"]["gold_accuracy"] == 1.0 and rows["cat"]["gold_accuracy"] == 0.0
    assert rows["bob"]["gold_accuracy"] is None
    # bob picked A on tasks 0, 1 (A shown left on 0, right on 1) and B on 2 (B shown right): 1 of 3 left.
    assert rows["bob"]["left_rate"] == approx(1 / 3)
    assert rows["bob"]["left_rate_p"] == approx(1.0)
    assert rows["bob"]["tie_rate"] == 0.25 and rows["ann"]["both_bad_rate"] == approx(1 / 6)
    assert rows["ann"]["skip_rate"] == approx(1 / 7) and rows["bob"]["skip_rate"] == 0
    assert rows["bob"]["flags_raised"] == 1 and rows["ann"]["flags_raised"] == 0
    assert rows["cat"]["paused"] is True and "gold accuracy" in rows["cat"]["paused_reason"]
    assert rows["ann"]["paused"] is False
    assert 0 < rows["cat"]["reliability"] < rows["ann"]["reliability"] <= 1
    assert all(row["flagged_reasons"] == [] for row in rows.values())

    helpful = body["by_criterion"]["helpfulness"]
    harmless = body["by_criterion"]["harmlessness"]
    assert helpful["n_items"] == 4 and helpful["n_judgements"] == 12
    assert harmless["percent_agreement"] == 1.0 and harmless["krippendorff_alpha"] is None  # no variation
    assert helpful["fleiss_kappa"] is not None  # every criterion item has three raters
    [today] = body["by_day"]
    assert today["n_judgements"] == 15 and today["krippendorff_alpha"] == body["krippendorff_alpha"]


def test_simulated_annotator_who_picks_left_80_percent_is_detected():
    rng = np.random.default_rng(11)
    project = make_project()
    manager = make_member(project, role=Membership.Role.MANAGER)
    biased, honest = make_member(project, "biased"), make_member(project, "honest")
    for _ in range(80):
        task = make_task(project)
        for user in (biased, honest):
            order = [0, 1] if rng.random() < 0.5 else [1, 0]
            pick_left = rng.random() < (0.8 if user is biased else 0.5)
            winner = order[0] if pick_left else order[1]
            judge(task, user, [[winner], [1 - winner]], display_order_positions=order)

    rows = by_username(get_agreement(manager, project).json())

    assert 0.7 < rows["biased"]["left_rate"] < 0.9
    assert rows["biased"]["left_rate_p"] < 1e-3
    assert any(reason.startswith("position bias") for reason in rows["biased"]["flagged_reasons"])
    assert rows["honest"]["left_rate_p"] > 0.01
    assert not any("position" in reason or "side" in reason for reason in rows["honest"]["flagged_reasons"])


def test_spam_rules_name_their_reason():
    project = make_project()
    manager = make_member(project, role=Membership.Role.MANAGER)
    crowd = [make_member(project, f"good{i}") for i in range(3)]
    fast, constant, side = make_member(project, "fast"), make_member(project, "constant"), make_member(project, "side")
    rng = np.random.default_rng(5)
    for i in range(30):
        task = make_task(project)
        truth = A_WINS if i % 2 else B_WINS
        for user in crowd:
            judge(task, user, truth)
        judge(task, fast, truth, time_spent_ms=900)
        judge(task, constant, TIE)
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        judge(task, side, [[order[0]], [order[1]]], display_order_positions=order)

    rows = by_username(get_agreement(manager, project).json())

    assert [r.split(":")[0] for r in rows["fast"]["flagged_reasons"]] == ["implausibly fast"]
    assert "constant choice" in [r.split(":")[0] for r in rows["constant"]["flagged_reasons"]]
    reasons_side = [r.split(":")[0] for r in rows["side"]["flagged_reasons"]]
    assert "side only" in reasons_side and "chance-level agreement" in reasons_side
    assert rows["good0"]["flagged_reasons"] == []


def test_replaced_judgements_are_not_counted_and_the_cache_sees_new_ones():
    project = make_project()
    manager = make_member(project, role=Membership.Role.MANAGER)
    ann, bob = make_member(project, "ann"), make_member(project, "bob")
    task = make_task(project)
    first = judge(task, ann, B_WINS)
    judge(task, bob, A_WINS)
    assert get_agreement(manager, project).json()["percent_agreement"] == 0.0

    replace(first, A_WINS)

    body = get_agreement(manager, project).json()
    assert body["percent_agreement"] == 1.0
    assert body["n_judgements"] == 2 and by_username(body)["ann"]["n"] == 1


def test_by_day_counts_an_item_on_the_day_it_was_completed():
    project = make_project()
    ann, bob = make_member(project, "ann"), make_member(project, "bob")
    day_1 = timezone.now() - dt.timedelta(days=2)
    day_2 = timezone.now() - dt.timedelta(days=1)
    early, late = make_task(project), make_task(project)
    judge(early, ann, A_WINS, created_at=day_1)
    judge(early, bob, A_WINS, created_at=day_1)
    judge(late, ann, A_WINS, created_at=day_1)
    judge(late, bob, B_WINS, created_at=day_2)

    days = project_agreement(project=project, use_cache=False)["by_day"]

    assert [d["day"] for d in days] == [day_1.date().isoformat(), day_2.date().isoformat()]
    assert [d["n_judgements"] for d in days] == [3, 1]
    assert [d["n_items"] for d in days] == [1, 1]
    assert [d["percent_agreement"] for d in days] == [1.0, 0.0]


def test_the_copy_reader_and_the_orm_reader_agree(monkeypatch):
    """The binary COPY fast path returns exactly what the portable ORM path does."""
    project = make_project(criteria=["helpfulness"], responses_per_task=3)
    users = [make_member(project) for _ in range(3)]
    rng = np.random.default_rng(2)
    for i in range(6):
        task = make_task(project, n_responses=3 if i % 2 else 2)
        for user in users:
            order = list(rng.permutation(len(task.response_ids)))
            ranking = [[int(p)] for p in order] if i % 3 else [[0, 1], [2]] if len(order) == 3 else TIE
            judge(task, user, ranking, strength=int(rng.integers(1, 5)) if i % 2 == 0 else None,
                  criteria_positions={"helpfulness": [[int(p)] for p in order]}, flags=["pii"] * (i % 2),
                  time_spent_ms=None if i == 1 else 1000 * i)
    assert connection.vendor == "postgresql"

    fast = judgement_arrays.project_judgements(project=project)
    monkeypatch.setattr(judgement_arrays, "_is_postgres", lambda: False)
    portable = judgement_arrays.project_judgements(project=project)

    for name in judgement_arrays.JudgementArrays.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(fast.judgements, name), getattr(portable.judgements, name), err_msg=name)
    for attribute in ("votes", "criterion_votes"):
        def rows(votes):
            return sorted(zip(*(getattr(votes, f).tolist() for f in judgement_arrays.PairVotes.__dataclass_fields__)))
        assert rows(getattr(fast, attribute)) == rows(getattr(portable, attribute)), attribute
    assert len(fast.votes) == 3 * (3 * 3 + 3 * 1)  # 3 three-response tasks: C(3,2) pairs each


def test_gold_accuracy_uses_the_same_rule_as_the_gold_pause():
    """Pairwise and K-way gold judgements: the report agrees with `selectors.gold.gold_accuracy`."""
    from annotation.selectors.gold import gold_accuracy

    project = make_project(responses_per_task=3)
    ann, bob = make_member(project, "ann"), make_member(project, "bob")
    pair_gold = make_task(project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking=A_WINS)
    ranked_gold = make_task(project, n_responses=3, purpose=ComparisonTask.Purpose.GOLD, gold_ranking=[[2], [0], [1]])
    judge(pair_gold, ann, A_WINS)
    judge(pair_gold, bob, TIE)
    judge(ranked_gold, ann, [[2], [1], [0]])  # same best response: correct
    judge(ranked_gold, bob, [[0], [2], [1]])

    rows = by_username(project_agreement(project=project, use_cache=False))

    for name, user in (("ann", ann), ("bob", bob)):
        expected, n = gold_accuracy(project=project, annotator=user)
        assert n == 2 and rows[name]["gold_accuracy"] == approx(expected)
    assert rows["ann"]["gold_accuracy"] == 1.0 and rows["bob"]["gold_accuracy"] == 0.0

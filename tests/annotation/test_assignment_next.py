"""The hot path: who gets which task, in what order, for how long."""
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask
from annotation.services.assignments import assignment_next, assignment_skip, assignments_expire
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, client_for, make_project, make_task, response_ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hot_path_impl")]


def judge(assignment, annotator, *, winner_first=True):
    a, b = assignment.display_order
    ranking = [[a], [b]] if winner_first else [[b], [a]]
    return judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=ranking,
                            client_id=f"c-{assignment.pk}")[0]


def test_an_annotator_never_gets_the_same_task_twice():
    project = make_project(overlap=3)
    tasks = [make_task(project) for _ in range(3)]
    annotator = add_member(project)
    seen = []
    while (assignment := assignment_next(project=project, annotator=annotator)) is not None:
        seen.append(assignment.task_id)
        judge(assignment, annotator)
    assert sorted(seen) == sorted(t.pk for t in tasks)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(project=project, task=tasks[0], annotator=annotator,
                                  leased_at=timezone.now(), expires_at=timezone.now())


def test_overlap_counts_judgements_and_live_leases():
    project = make_project(overlap=2)
    task = make_task(project)
    first, second, third = (add_member(project) for _ in range(3))
    a1 = assignment_next(project=project, annotator=first)
    a2 = assignment_next(project=project, annotator=second)
    assert a1.task_id == a2.task_id == task.pk
    assert assignment_next(project=project, annotator=third) is None  # two live leases fill it
    judge(a1, first)
    assert assignment_next(project=project, annotator=third) is None  # one judgement + one lease
    judge(a2, second)
    task.refresh_from_db()
    assert task.judgement_count == 2 and task.is_complete


def test_a_held_live_lease_is_returned_again():
    project = make_project()
    make_task(project)
    make_task(project)
    annotator = add_member(project)
    first = assignment_next(project=project, annotator=annotator)
    again = assignment_next(project=project, annotator=annotator)
    assert again.pk == first.pk and again.display_order == first.display_order


def test_an_expired_lease_returns_the_task_to_the_pool():
    project = make_project(overlap=1)
    task = make_task(project)
    slow, other = add_member(project), add_member(project)
    lapsed = assignment_next(project=project, annotator=slow)
    assert assignment_next(project=project, annotator=other) is None
    Assignment.objects.filter(pk=lapsed.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    taken = assignment_next(project=project, annotator=other)
    assert taken.task_id == task.pk
    lapsed.refresh_from_db()
    assert lapsed.state == Assignment.State.EXPIRED  # marked when encountered
    # The slow annotator's own expired lease is not handed back, and their late submit is refused.
    assert assignment_next(project=project, annotator=slow) is None
    with pytest.raises(DomainError) as refused:
        judge(lapsed, slow)
    assert refused.value.http_status == 409


def test_breadth_first_then_priority_then_random_key():
    project = make_project(overlap=2)
    low = make_task(project, priority=0, random_key=0.1)
    high = make_task(project, priority=5, random_key=0.9)
    high_later = make_task(project, priority=5, random_key=0.95)
    first_annotator = add_member(project)
    first = assignment_next(project=project, annotator=first_annotator)
    assert first.task_id == high.pk  # priority, then the random key
    judge(first, first_annotator)
    second_annotator = add_member(project)
    # `high` has a judgement now: it is finished before fresh tasks.
    assert assignment_next(project=project, annotator=second_annotator).task_id == high.pk
    third = add_member(project)
    assert assignment_next(project=project, annotator=third).task_id == high_later.pk
    assert low.pk not in {high.pk, high_later.pk}


def test_uncertainty_order_when_the_project_asks_for_it():
    project = make_project(task_order="uncertainty")
    make_task(project, uncertainty=0.1, random_key=0.0)
    sure = make_task(project, uncertainty=None, random_key=0.0)
    unsure = make_task(project, uncertainty=0.9, random_key=0.5)
    annotator = add_member(project)
    order = []
    while (assignment := assignment_next(project=project, annotator=annotator)) is not None:
        order.append(assignment.task_id)
        judge(assignment, annotator)
    assert order[0] == unsure.pk and order[-1] == sure.pk


def test_display_order_is_randomized_per_assignment_and_stored():
    project = make_project(task_type="ranking", responses_per_task=4, overlap=40)
    task = make_task(project)
    orders = set()
    for _ in range(30):
        assignment = assignment_next(project=project, annotator=add_member(project))
        assert sorted(assignment.display_order) == sorted(response_ids(task))
        orders.add(tuple(assignment.display_order))
    assert len(orders) > 5


def test_paused_annotators_get_403_with_the_reason():
    project = make_project()
    make_task(project)
    annotator = add_member(project, paused=True, paused_reason="Gold accuracy 40% is below 70%")
    answer = client_for(annotator).post(f"/api/projects/{project.pk}/next/")
    assert answer.status_code == 403 and "Gold accuracy 40%" in answer.json()["detail"]


def test_gold_tasks_are_mixed_in_and_look_like_any_task():
    project = make_project(gold_rate=1.0, overlap=1)
    gold = make_task(project, purpose="gold", gold_ranking_positions=[[0], [1]])
    regular = make_task(project)
    annotators = [add_member(project) for _ in range(3)]
    for annotator in annotators:
        body = client_for(annotator).post(f"/api/projects/{project.pk}/next/").json()
        assert body["task"]["id"] == gold.pk  # gold has no overlap limit: everyone gets it first
        assert "purpose" not in body["task"] and "gold_ranking" not in body["task"]
    project.gold_rate = 0.0
    project.save()
    fresh = add_member(project)
    assert assignment_next(project=project, annotator=fresh).task_id == regular.pk


def test_next_over_http_returns_the_contract_shape_and_204_when_done():
    project = make_project()
    task = make_task(project)
    annotator = add_member(project)
    client = client_for(annotator)
    body = client.post(f"/api/projects/{project.pk}/next/").json()
    assert set(body) == {"assignment", "task"}
    assert {"id", "expires_at"} <= set(body["assignment"])
    assert body["task"]["id"] == task.pk and body["task"]["prompt"]["text"] == task.prompt.text
    assert [r["id"] for r in body["task"]["responses"]] == Assignment.objects.get(pk=body["assignment"]["id"]).display_order
    skipped = client.post(f"/api/assignments/{body['assignment']['id']}/skip/", {"reason": "not my language"}, format="json")
    assert skipped.status_code == 200 and skipped.json()["state"] == "skipped"
    assert client.post(f"/api/projects/{project.pk}/next/").status_code == 204
    outsider = client_for(add_member(make_project()))
    assert outsider.post(f"/api/projects/{project.pk}/next/").status_code == 404


def test_skip_needs_a_reason_and_frees_the_slot():
    project = make_project(overlap=1)
    make_task(project)
    first, second = add_member(project), add_member(project)
    assignment = assignment_next(project=project, annotator=first)
    with pytest.raises(DomainError) as no_reason:
        assignment_skip(assignment_id=assignment.pk, annotator=first, reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(DomainError) as not_theirs:
        assignment_skip(assignment_id=assignment.pk, annotator=second, reason="x")
    assert not_theirs.value.http_status == 403
    assignment_skip(assignment_id=assignment.pk, annotator=first, reason="offensive")
    assert assignment_next(project=project, annotator=second) is not None


def test_managers_and_engineers_who_are_members_may_annotate():
    project = make_project()
    make_task(project)
    engineer = add_member(project, role="engineer")
    assert assignment_next(project=project, annotator=engineer) is not None


def test_assignments_expire_marks_lapsed_leases():
    project = make_project()
    make_task(project)
    annotator = add_member(project)
    assignment = assignment_next(project=project, annotator=annotator)
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    assert assignments_expire(project=project) == 1
    assert ComparisonTask.objects.get(pk=assignment.task_id).judgement_count == 0

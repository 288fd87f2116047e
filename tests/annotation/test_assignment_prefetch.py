"""Prefetch: the task after the current one is leased ahead, under every rule of assignment_next."""
import pytest

from annotation.models import Assignment
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from annotation.services.prefetch import assignment_prefetch
from tests.annotation.factories import add_member, client_for, make_project, make_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hot_path_impl")]


def _submit(assignment, annotator, client_id):
    shown = assignment.display_order
    judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id=client_id,
                     ranking=[[shown[0]], [shown[1]]], strength=2)


def test_prefetch_leases_one_task_ahead_and_next_hands_it_over():
    project = make_project(overlap=1)
    annotator = add_member(project)
    for _ in range(3):
        make_task(project)
    current = assignment_next(project=project, annotator=annotator)

    ahead = assignment_prefetch(project=project, annotator=annotator, current_assignment_id=current.pk)

    assert ahead is not None and ahead.task_id != current.task_id
    assert Assignment.objects.get(pk=current.pk).state == Assignment.State.ACTIVE
    # Asking again holds no third task.
    assert assignment_prefetch(project=project, annotator=annotator, current_assignment_id=current.pk).pk == ahead.pk
    assert Assignment.objects.filter(annotator=annotator, state="active").count() == 2
    # After the current one is judged, next returns the prefetched lease.
    _submit(current, annotator, "p-1")
    assert assignment_next(project=project, annotator=annotator).pk == ahead.pk
    # From the prefetched one, the last task; then nothing.
    last = assignment_prefetch(project=project, annotator=annotator, current_assignment_id=ahead.pk)
    assert {current.task_id, ahead.task_id, last.task_id} == set(project.tasks.values_list("pk", flat=True))
    _submit(ahead, annotator, "p-2")
    assert assignment_prefetch(project=project, annotator=annotator, current_assignment_id=last.pk) is None


def test_prefetch_respects_overlap_and_needs_a_live_current_lease():
    project = make_project(overlap=1)
    first, second = add_member(project), add_member(project)
    make_task(project)
    make_task(project)
    mine = assignment_next(project=project, annotator=first)
    theirs = assignment_next(project=project, annotator=second)
    # Both tasks are leased (overlap 1): nothing to prefetch for either.
    assert assignment_prefetch(project=project, annotator=first, current_assignment_id=mine.pk) is None
    # Someone else's or a finished assignment is not a current lease.
    assert assignment_prefetch(project=project, annotator=first, current_assignment_id=theirs.pk) is None
    _submit(mine, first, "o-1")
    assert assignment_prefetch(project=project, annotator=first, current_assignment_id=mine.pk) is None


def test_prefetch_api():
    project = make_project()
    annotator = add_member(project)
    make_task(project)
    make_task(project)
    client = client_for(annotator)
    current = client.post(f"/api/projects/{project.pk}/next/").json()

    response = client.post(f"/api/projects/{project.pk}/prefetch/", {"after": current["assignment"]["id"]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["task"]["id"] != current["task"]["id"] and len(body["task"]["responses"]) == 2
    assert client.post(f"/api/projects/{project.pk}/prefetch/", {"after": "x"}, format="json").status_code == 400
    # Seen from the prefetched lease, the task "after" it is the other live one (e.g. after a reload,
    # when next handed out the newer lease first): nothing held is ever left behind.
    again = client.post(f"/api/projects/{project.pk}/prefetch/", {"after": body["assignment"]["id"]}, format="json")
    assert again.status_code == 200 and again.json()["assignment"]["id"] == current["assignment"]["id"]

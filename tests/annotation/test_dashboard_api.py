"""The web UI's read models: an annotator's work left per project, a project's dashboard numbers."""
import pytest

from annotation.models import Membership
from annotation.services.assignments import assignment_next, assignment_skip
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, client_for, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def _judge(project, annotator, *, first_wins=True, strength=3, client_id):
    assignment = assignment_next(project=project, annotator=annotator)
    shown = assignment.display_order
    ranking = [[shown[0]], [shown[1]]] if first_wins else [[shown[1]], [shown[0]]]
    judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id=client_id,
                     ranking=ranking, strength=strength, flags=["pii"] if strength == 4 else [])
    return assignment


def test_workload_counts_tasks_left_for_me_and_my_judgements():
    project = make_project(overlap=1)
    annotator = add_member(project)
    for _ in range(4):
        make_task(project)
    _judge(project, annotator, client_id="w-1")
    held = assignment_next(project=project, annotator=annotator)

    rows = client_for(annotator).get("/api/me/workload/").json()

    assert len(rows) == 1
    row = rows[0]
    assert row["project"]["id"] == project.pk
    assert row["role"] == Membership.Role.ANNOTATOR
    # 4 tasks, 1 judged by me; the one I hold a lease on still counts as left.
    assert row["tasks_left"] == 3
    assert row["judged_by_me"] == 1 and row["judged_today"] == 1
    assignment_skip(assignment_id=held.pk, annotator=annotator, reason="unclear")
    assert client_for(annotator).get("/api/me/workload/").json()[0]["tasks_left"] == 2


def test_dashboard_reports_backlog_throughput_and_strengths_to_managers_only():
    manager = make_user(staff=True)
    project = make_project(manager=manager, overlap=2)
    first, second = add_member(project), add_member(project)
    for _ in range(3):
        make_task(project)
    _judge(project, first, strength=4, client_id="d-1")
    _judge(project, second, strength=2, client_id="d-2")

    response = client_for(manager).get(f"/api/projects/{project.pk}/dashboard/")

    assert response.status_code == 200
    data = response.json()
    assert data["tasks_total"] == 3
    assert data["judgements_total"] == 2
    # Breadth-first: both judged the same task, which is now complete (overlap 2).
    assert data["tasks_complete"] == 1
    assert data["judgements_needed"] == 4
    assert sum(bucket["n"] for bucket in data["throughput_hourly"]) == 2
    assert sum(bucket["n"] for bucket in data["throughput_daily"]) == 2
    assert len(data["throughput_hourly"]) == 48
    strengths = {row["strength"]: row["n"] for row in data["strength_distribution"]}
    assert strengths == {1: 0, 2: 1, 3: 0, 4: 1}
    outcomes = {row["outcome"]: row["n"] for row in data["outcome_distribution"]}
    assert outcomes["first_shown"] == 2
    assert data["flags"] == [{"flag": "pii", "n": 1}]
    assert client_for(first).get(f"/api/projects/{project.pk}/dashboard/").status_code == 403
    assert client_for(make_user()).get(f"/api/projects/{project.pk}/dashboard/").status_code == 404

"""Text PostgreSQL cannot store (NUL, a lone surrogate) in any text or JSON input of the API gets a
400, never a 500 (the database would refuse it at write time)."""
import json

import pytest

from annotation.services.assignments import assignment_next
from tests.annotation.factories import add_member, client_for, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

BAD = ["nul \u0000 here", "lone \ud800 here"]


def send(client, method: str, url: str, body: dict):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def setup():
    project = make_project(criteria=["honesty"])
    annotator = add_member(project)
    task = make_task(project)
    assignment = assignment_next(project=project, annotator=annotator)
    return project, annotator, task, assignment


@pytest.mark.parametrize("bad", BAD)
def test_every_text_input_answers_400(setup, bad):
    project, annotator, task, assignment = setup
    manager = client_for(project.created_by)
    member = client_for(annotator)
    order = assignment.display_order
    cases = [
        (manager, "post", f"/api/projects/{project.pk}/members/", {"username": bad, "role": "annotator",
                                                                   "password": "long-password-1"}),
        (manager, "patch", f"/api/projects/{project.pk}/members/{annotator.pk}/", {"paused": True,
                                                                                  "paused_reason": bad}),
        (manager, "post", f"/api/tasks/{task.pk}/gold/", {"ranking": [[bad]]}),
        (member, "post", f"/api/assignments/{assignment.pk}/skip/", {"reason": bad}),
        (member, "post", f"/api/assignments/{assignment.pk}/judgement/",
         {"client_id": "c-1", "ranking": [[order[0]], [order[1]]], "rationale": bad}),
        (member, "post", f"/api/assignments/{assignment.pk}/judgement/",
         {"client_id": bad, "ranking": [[order[0]], [order[1]]]}),
        (member, "post", f"/api/assignments/{assignment.pk}/judgement/",
         {"client_id": "c-2", "ranking": [[order[0]], [order[1]]], "criteria": {bad: [[order[0]], [order[1]]]}}),
        (client_for(make_user(superuser=True)), "post", f"/api/projects/{project.pk}/iterations/",
         {"hyperparameters": {"ppo": {bad: 1}}}),
        (client_for(make_user()), "post", "/api/auth/token/", {"username": bad, "password": "x"}),
    ]
    for client, method, url, body in cases:
        answer = send(client, method, url, body)
        assert answer.status_code == 400, (url, body, answer.status_code, answer.content[:300])
        if "iterations" in url:
            assert answer.json()["field"] == "hyperparameters.ppo"

"""A project's `training_processes`: a training setting engineers change, bounded by the deployment."""
import pytest

from tests.annotation.factories import add_member, client_for, make_project

pytestmark = pytest.mark.django_db


def test_an_engineer_sets_the_training_processes_within_the_deployments_maximum(settings):
    settings.TRAINING_MAX_PROCESSES = 4
    project = make_project()
    engineer = client_for(add_member(project, role="engineer"))
    url = f"/api/projects/{project.pk}/"
    assert client_for(project.created_by).get(url).json()["training_processes"] is None  # the deployment's default

    assert engineer.patch(url, {"training_processes": 4}, format="json").json()["training_processes"] == 4
    project.refresh_from_db()
    assert project.training_processes == 4

    for bad in (0, 5, -1, "two", 1.5):
        answer = engineer.patch(url, {"training_processes": bad}, format="json")
        assert answer.status_code == 400 and "training_processes" in str(answer.json()), (bad, answer.json())
    project.refresh_from_db()
    assert project.training_processes == 4

    assert engineer.patch(url, {"training_processes": None}, format="json").json()["training_processes"] is None


def test_an_annotator_cannot_change_it():
    project = make_project()
    annotator = client_for(add_member(project, role="annotator"))
    answer = annotator.patch(f"/api/projects/{project.pk}/", {"training_processes": 2}, format="json")
    assert answer.status_code == 403


def test_a_new_project_over_the_maximum_is_refused(settings):
    from tests.annotation.factories import make_user

    settings.TRAINING_MAX_PROCESSES = 2
    staff = client_for(make_user(staff=True))
    answer = staff.post("/api/projects/", {"name": "Too wide", "training_processes": 3}, format="json")
    assert answer.status_code == 400 and answer.json()["field"] == "training_processes"
    created = staff.post("/api/projects/", {"name": "Two", "training_processes": 2}, format="json")
    assert created.status_code == 201 and created.json()["training_processes"] == 2

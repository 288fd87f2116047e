"""Auth, roles, projects and members through the REST API."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.models import ComparisonTask, Membership, Project
from tests.annotation.factories import add_member, client_for, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_a_token_that_authenticates():
    make_user("ann", password="secret-pw-1")
    anonymous = APIClient()
    assert anonymous.get("/api/me/").status_code in (401, 403)
    answer = anonymous.post("/api/auth/token/", {"username": "ann", "password": "secret-pw-1"}, format="json")
    assert answer.status_code == 200 and set(answer.json()) == {"token", "expires_at"}
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    assert anonymous.get("/api/me/").json()["username"] == "ann"
    wrong = APIClient().post("/api/auth/token/", {"username": "ann", "password": "nope"}, format="json")
    assert wrong.status_code == 400


def test_session_login_and_logout_for_the_browser():
    make_user("browser", password="secret-pw-1")
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/api/auth/session/").status_code == 204  # nobody yet; sets the CSRF cookie
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
    bad = client.post("/api/auth/session/", {"username": "browser", "password": "x"}, format="json", **csrf)
    assert bad.status_code == 400 and bad.json()["field"] == "password"
    signed_in = client.post("/api/auth/session/", {"username": "browser", "password": "secret-pw-1"}, format="json", **csrf)
    assert signed_in.status_code == 200
    assert client.get("/api/me/").json()["username"] == "browser"
    csrf = {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}  # rotated by signing in
    assert client.delete("/api/auth/session/", **csrf).status_code == 204
    assert client.get("/api/me/").status_code == 401


def test_me_lists_projects_with_roles_and_pause_state():
    manager = make_user(staff=True)
    project = make_project(manager=manager, name="Alpha")
    annotator = add_member(project, paused=True)
    body = client_for(annotator).get("/api/me/").json()
    assert body["projects"] == [{"id": project.pk, "name": "Alpha", "role": "annotator", "paused": True}]
    assert body["is_superuser"] is False
    admin = make_user(superuser=True)
    assert client_for(admin).get("/api/me/").json()["projects"][0]["role"] == "admin"


def test_staff_create_projects_and_become_manager_others_cannot():
    staff = make_user(staff=True)
    answer = client_for(staff).post(
        "/api/projects/",
        {"name": "HH", "task_type": "pairwise", "responses_per_task": 2, "overlap": 3,
         "guidelines": "# Be kind", "criteria": ["helpfulness", "harmlessness"]},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["role"] == "manager" and answer.json()["overlap"] == 3
    assert Membership.objects.get(project_id=answer.json()["id"], user=staff).role == "manager"
    plain = make_user()
    refused = client_for(plain).post("/api/projects/", {"name": "Nope"}, format="json")
    assert refused.status_code == 403
    duplicate = client_for(staff).post("/api/projects/", {"name": "HH"}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "name"
    pairwise_of_three = client_for(staff).post(
        "/api/projects/", {"name": "bad", "task_type": "pairwise", "responses_per_task": 3}, format="json"
    )
    assert pairwise_of_three.status_code == 400 and pairwise_of_three.json()["field"] == "responses_per_task"


def test_list_and_detail_show_only_the_callers_projects():
    mine = make_project(name="mine")
    theirs = make_project(name="theirs")
    annotator = add_member(mine)
    client = client_for(annotator)
    assert [p["name"] for p in client.get("/api/projects/").json()] == ["mine"]
    assert client.get(f"/api/projects/{mine.pk}/").json()["progress"]["tasks"] == 0
    assert client.get(f"/api/projects/{theirs.pk}/").status_code == 404
    admin = make_user(superuser=True)
    assert {p["name"] for p in client_for(admin).get("/api/projects/").json()} >= {"mine", "theirs"}


def test_patch_settings_by_role():
    project = make_project(overlap=2)
    manager = project.created_by
    engineer = add_member(project, role="engineer")
    annotator = add_member(project)
    url = f"/api/projects/{project.pk}/"
    assert client_for(annotator).patch(url, {"gold_rate": 0.1}, format="json").status_code == 403
    assert client_for(engineer).patch(url, {"gold_rate": 0.1}, format="json").status_code == 403
    assert client_for(engineer).patch(url, {"algorithm": "dpo"}, format="json").status_code == 200
    answer = client_for(manager).patch(url, {"gold_rate": 0.2, "criteria": ["honesty"]}, format="json")
    assert answer.status_code == 200 and answer.json()["gold_rate"] == 0.2
    assert client_for(manager).patch(url, {"task_type": "ranking"}, format="json").json()["field"] == "task_type"
    assert client_for(manager).patch(url, {"overlap": 0}, format="json").status_code == 400
    project.refresh_from_db()
    assert project.algorithm == "dpo" and project.criteria == ["honesty"]


def test_lowering_overlap_completes_tasks_with_enough_judgements():
    project = make_project(overlap=3)
    task = make_task(project)
    ComparisonTask.objects.filter(pk=task.pk).update(judgement_count=2)
    client_for(project.created_by).patch(f"/api/projects/{project.pk}/", {"overlap": 2}, format="json")
    task.refresh_from_db()
    assert task.is_complete


def test_members_endpoint_creates_users_and_is_for_managers_only():
    project = make_project()
    manager = client_for(project.created_by)
    url = f"/api/projects/{project.pk}/members/"
    created = manager.post(url, {"username": "newbie", "role": "annotator", "password": "long-password-1"}, format="json")
    assert created.status_code == 201 and created.json()["username"] == "newbie"
    assert get_user_model().objects.get(username="newbie").check_password("long-password-1")
    again = manager.post(url, {"username": "newbie", "role": "engineer", "password": "long-password-1"}, format="json")
    assert again.status_code == 200 and again.json()["role"] == "engineer"
    takeover = manager.post(url, {"username": "newbie", "role": "annotator", "password": "other-password"}, format="json")
    assert takeover.status_code == 409
    unknown = manager.post(url, {"username": "ghost", "role": "annotator"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["field"] == "username"
    short = manager.post(url, {"username": "shorty", "role": "annotator", "password": "x"}, format="json")
    assert short.status_code == 400 and short.json()["field"] == "password"
    spaced = manager.post(url, {"username": "two words", "role": "annotator", "password": "long-password-1"}, format="json")
    assert spaced.status_code == 400 and spaced.json()["field"] == "username"
    bad_role = manager.post(url, {"username": "newbie", "role": "king"}, format="json")
    assert bad_role.status_code == 400 and "role" in bad_role.json()
    annotator = client_for(get_user_model().objects.get(username="newbie"))
    Membership.objects.filter(user__username="newbie").update(role="annotator")
    assert annotator.post(url, {"username": "x", "role": "annotator", "password": "long-password-2"}, format="json").status_code == 403
    assert len(manager.get(url).json()) == 2


def test_manager_unpauses_a_member():
    project = make_project()
    annotator = add_member(project, paused=True, paused_reason="gold accuracy")
    url = f"/api/projects/{project.pk}/members/{annotator.pk}/"
    answer = client_for(project.created_by).patch(url, {"paused": False}, format="json")
    assert answer.status_code == 200 and answer.json()["paused"] is False
    assert client_for(annotator).patch(url, {"paused": False}, format="json").status_code == 403
    assert Project.objects.get(pk=project.pk).memberships.get(user=annotator).paused is False

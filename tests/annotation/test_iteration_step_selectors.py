"""The reads the iteration's steps make (annotation.selectors.iteration_steps)."""
import pytest

from annotation.models import Iteration, PolicyVersion, Response, TrainingJob
from annotation.selectors.iteration_steps import (
    iteration_step_job,
    policy_responses_to_prompts,
    prompt_ids_answered_by,
    sft_job_on_demonstrations,
    task_responses,
)

from .factories import make_project, make_task

pytestmark = pytest.mark.django_db


def _iteration(project, number: int, *, sft_metrics: dict | None = None, sft_status="succeeded") -> Iteration:
    iteration = Iteration.objects.create(project=project, number=number, algorithm="ppo", status="succeeded")
    TrainingJob.objects.create(iteration=iteration, step="snapshot", order=0, status="succeeded")
    TrainingJob.objects.create(iteration=iteration, step="sft", order=1, status=sft_status, metrics=sft_metrics or {})
    return iteration


def test_an_earlier_sft_on_the_same_demonstrations_is_found_and_nothing_else():
    # Given SFT runs of two iterations of one project and one of another project
    project, other = make_project(), make_project()
    trained = {"demonstrations_hash": "abc", "skipped": False}
    first = _iteration(project, 1, sft_metrics=trained)
    _iteration(project, 2, sft_metrics={"demonstrations_hash": "abc", "skipped": True})
    _iteration(other, 1, sft_metrics=trained)
    current = _iteration(project, 3, sft_status="queued")
    # Then only the project's earlier SFT that really trained on these demonstrations counts
    found = sft_job_on_demonstrations(iteration=current, demonstrations_hash="abc")
    assert found is not None and found.iteration == first
    assert sft_job_on_demonstrations(iteration=current, demonstrations_hash="changed") is None
    assert sft_job_on_demonstrations(iteration=first, demonstrations_hash="abc") is None  # not itself
    assert iteration_step_job(iteration=current, step="sft").status == "queued"
    assert iteration_step_job(iteration=current, step="rlaif") is None


def test_a_policys_responses_are_read_by_prompt_and_tasks_show_their_responses():
    project = make_project()
    task, other_task = make_task(project), make_task(project)
    policy = PolicyVersion.objects.create(project=project, name="p1", path="/p1")
    answered = Response.objects.create(prompt=task.prompt, text="mine", policy_version=policy, source=Response.Source.MODEL,
                                       content_hash="h1")
    assert prompt_ids_answered_by(policy=policy) == {task.prompt_id}
    assert policy_responses_to_prompts(policies=[policy], prompt_ids=[task.prompt_id]) == [answered]
    assert policy_responses_to_prompts(policies=[policy], prompt_ids=[other_task.prompt_id]) == []
    links = task_responses(tasks=[task])
    assert {link.response_id for link in links} == set(task.task_responses.values_list("response_id", flat=True))
    assert all(link.task_id == task.pk for link in links)

"""Storing a policy's samples and building the iteration's comparison tasks from them."""
import pytest

from annotation.models import ComparisonTask, Iteration, PolicyVersion, Project, Response
from annotation.services.iteration_tasks import iteration_comparisons_create, policy_responses_store
from annotation.services.tasks import prompt_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def loop():
    project = Project.objects.create(name="tasks loop", base_policy_path="/base")
    reference = PolicyVersion.objects.create(project=project, name="reference", path="/base", is_reference=True)
    iteration = Iteration.objects.create(project=project, number=1, algorithm="ppo", policy_before=reference)
    new = PolicyVersion.objects.create(project=project, name="iteration-1", path="/new", iteration=iteration)
    prompts = [prompt_get_or_create(project=project, text=f"question {i}")[0] for i in range(3)]
    return project, reference, iteration, new, prompts


def test_samples_are_stored_once_without_nul_bytes_and_empty_ones_are_dropped(loop):
    project, reference, iteration, new, prompts = loop
    other_project = Project.objects.create(name="elsewhere")
    foreign, _ = prompt_get_or_create(project=other_project, text="not yours")
    rows = [
        {"id": prompts[0].pk, "response": "Hel\x00lo", "kl": 0.5},
        {"id": prompts[1].pk, "response": " \x00 "},
        {"id": foreign.pk, "response": "sneaky"},
    ]
    assert policy_responses_store(policy=new, rows=rows, iteration=iteration) == 1
    assert policy_responses_store(policy=new, rows=rows, iteration=iteration) == 0  # idempotent
    stored = Response.objects.get(policy_version=new)
    assert stored.text == "Hello" and stored.metadata == {"sample": True, "iteration": 1, "kl": 0.5}
    assert stored.source == "model" and not Response.objects.filter(prompt=foreign).exists()


def test_comparisons_pair_the_new_policy_with_each_opponent_once(loop):
    project, reference, iteration, new, prompts = loop
    policy_responses_store(policy=new, rows=[{"id": p.pk, "response": f"new {p.pk}"} for p in prompts])
    policy_responses_store(policy=reference, rows=[
        {"id": prompts[0].pk, "response": f"old {prompts[0].pk}"},
        {"id": prompts[1].pk, "response": f"new {prompts[1].pk}"},  # the same text: no task
    ])  # prompts[2]: the reference has no sample, so no task either

    created = iteration_comparisons_create(iteration=iteration, prompt_ids=[p.pk for p in prompts], new_policy=new,
                                           opponents=[reference, reference, new], purpose="evaluation")
    assert created == 1
    task = ComparisonTask.objects.get(iteration=iteration)
    assert task.purpose == "evaluation" and task.priority == 1 and task.prompt == prompts[0]
    assert set(task.responses.values_list("policy_version__name", flat=True)) == {"reference", "iteration-1"}
    # a re-run creates nothing new
    assert iteration_comparisons_create(iteration=iteration, prompt_ids=[p.pk for p in prompts], new_policy=new,
                                        opponents=[reference], purpose="evaluation") == 0

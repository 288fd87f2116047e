"""The real-model demo's background generation: a real Celery worker samples the project's prompts
in chunks with `python -m training generate` (the tiny local policy stands in for SmolLM2), tasks
appear after each chunk, the manager reads the progress through the API, and a failure is reported
there with its error instead of being lost."""
import pytest
from rest_framework.test import APIClient

from annotation.models import ComparisonTask, Prompt, Response, ResponseGeneration
from simulation.demo_setup import demo_accounts, demo_admin_ensure
from simulation.real_model_demo import REAL_MODEL_PROJECT_NAME, real_model_demo_setup
from tests.workers.conftest import wait_for

N_PROMPTS = 4
CHUNK = 2  # two chunks: the first chunk's tasks must be there while the second is sampled
TINY_OPTIONS = {"max_new_tokens": 12, "temperature": 1.0}


def setup_demo(*, policy_path: str, limit: int = N_PROMPTS):
    accounts = demo_accounts()
    admin, _ = demo_admin_ensure(next(a for a in accounts if a.role == "admin"))
    return real_model_demo_setup(admin=admin, accounts=accounts, policy_path=policy_path, limit=limit,
                                 chunk_size=CHUNK, options=TINY_OPTIONS)


def manager_reads_generation(project) -> dict:
    client = APIClient()
    manager = next(a for a in demo_accounts() if a.username == "manager")
    assert client.login(username=manager.username, password=manager.password)
    response = client.get(f"/api/projects/{project.pk}/generations/")
    assert response.status_code == 200, response.content
    (generation,) = response.json()
    return generation


def tasks_with_two_distinct_samples(project, prompt_ids) -> int:
    """Prompts among `prompt_ids` whose two samples differ (identical samples make no task)."""
    count = 0
    for prompt_id in prompt_ids:
        texts = set(Response.objects.filter(prompt_id=prompt_id, policy_version__isnull=False)
                    .exclude(text="").values_list("content_hash", flat=True))
        count += len(texts) >= 2
    return count


@pytest.mark.django_db(transaction=True)
def test_tasks_appear_chunk_by_chunk_and_the_manager_sees_the_progress_reach_done(celery_worker, tiny_policy):
    demo = setup_demo(policy_path=tiny_policy)
    project = demo.project
    assert demo.queued and project.name == REAL_MODEL_PROJECT_NAME
    prompt_ids = demo.generation.prompt_ids
    assert len(prompt_ids) == N_PROMPTS == Prompt.objects.filter(project=project).count()

    # After the first chunk, while the second is still being sampled: its tasks are there already.
    first = wait_for(lambda: (g := manager_reads_generation(project))["prompts_done"] >= CHUNK and g,
                     timeout=60, interval=0.2, message="the first chunk")
    assert first["prompts_done"] == CHUNK and first["status"] == "running", first
    after_first = ComparisonTask.objects.filter(project=project).count()
    assert after_first == first["tasks_created"] == tasks_with_two_distinct_samples(project, prompt_ids[:CHUNK])
    assert after_first >= 1
    assert first["first_tasks_at"] is not None

    done = wait_for(lambda: (g := manager_reads_generation(project))["status"] == "succeeded" and g,
                    timeout=60, interval=0.3, message="the generation to finish")
    assert (done["prompts_done"], done["prompts_total"], done["error"]) == (N_PROMPTS, N_PROMPTS, "")
    tasks = ComparisonTask.objects.filter(project=project)
    assert tasks.count() == done["tasks_created"] == tasks_with_two_distinct_samples(project, prompt_ids)
    assert tasks.count() > after_first
    # each task: two different samples of the reference policy to its prompt
    for task in tasks.prefetch_related("responses"):
        responses = list(task.responses.all())
        assert len(responses) == 2 and responses[0].text != responses[1].text
        assert {r.policy_version_id for r in responses} == {demo.generation.policy_id}
        assert all(r.prompt_id == task.prompt_id for r in responses)
    assert demo.generation.policy.is_reference and project.base_policy_path == tiny_policy


@pytest.mark.django_db(transaction=True)
def test_a_failed_generation_is_reported_to_the_manager_and_can_be_retried(celery_worker, tmp_path):
    missing = str(tmp_path / "no-such-model")
    demo = setup_demo(policy_path=missing)

    failed = wait_for(lambda: (g := manager_reads_generation(demo.project))["status"] == "failed" and g,
                      timeout=60, interval=0.3, message="the generation to fail")
    assert "generate failed" in failed["error"] and "no-such-model" in failed["error"], failed["error"]
    assert failed["prompts_done"] == 0 and failed["finished_at"] is not None
    # the rest of the project keeps working: its prompts and settings are there for the manager
    assert Prompt.objects.filter(project=demo.project).count() == N_PROMPTS

    again = setup_demo(policy_path=missing)  # `make run` again retries it
    assert again.retried and again.generation.pk == demo.generation.pk
    assert again.generation.status == "queued" and again.generation.error == ""
    wait_for(lambda: manager_reads_generation(demo.project)["status"] == "failed", timeout=60,
             message="the retry to fail again")


@pytest.mark.django_db
def test_queueing_again_queues_no_second_generation_and_no_duplicates(django_capture_on_commit_callbacks,
                                                                       tmp_path):
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = setup_demo(policy_path=str(tmp_path))
    counts = (Prompt.objects.count(), ComparisonTask.objects.count(), ResponseGeneration.objects.count())
    with django_capture_on_commit_callbacks() as second_callbacks:
        second = setup_demo(policy_path=str(tmp_path))

    assert first.queued and not second.queued and not second.retried
    assert len(first_callbacks) == 1 and len(second_callbacks) == 0  # one message for the worker, once
    assert second.generation.pk == first.generation.pk
    assert (Prompt.objects.count(), ComparisonTask.objects.count(), ResponseGeneration.objects.count()) == counts
    assert counts[2] == 1


@pytest.mark.django_db
def test_annotators_do_not_see_the_generation(tmp_path):
    demo = setup_demo(policy_path=str(tmp_path))
    annotator = next(a for a in demo_accounts() if a.username == "annotator")
    client = APIClient()
    assert client.login(username=annotator.username, password=annotator.password)
    assert client.get(f"/api/projects/{demo.project.pk}/generations/").status_code == 403

"""Simulated annotators judge through the real REST API of a gunicorn server (real HTTP, Postgres)."""
import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from annotation.models import ComparisonTask, Judgement, Project
from simulation.corpus import demo_prompts
from simulation.demo_setup import DEMO_PROJECT_NAME
from simulation.gold_reward import gold_reward
from simulation.simulated_annotators import (
    ALWAYS_LEFT,
    BRADLEY_TERRY,
    ApiClient,
    SimulatedCrowd,
    add_annotator_members,
    default_profiles,
)

JUDGEMENTS_EACH = 6


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulated_annotators_judge_over_http_and_their_judgements_are_stored(world_server):
    call_command("demo", "--skip-policy", stdout=io.StringIO())
    project = Project.objects.get(name=DEMO_PROJECT_NAME)
    profiles = default_profiles(6, seed=1)
    admin_token = ApiClient(world_server.url).login("admin", "prefloop-admin")
    add_annotator_members(world_server.url, project_id=project.pk, manager_token=admin_token, profiles=profiles)
    # Adding the same accounts again is harmless (a set-up script may be re-run).
    add_annotator_members(world_server.url, project_id=project.pk, manager_token=admin_token, profiles=profiles)

    crowd = SimulatedCrowd(profiles, base_url=world_server.url, project_id=project.pk, seed=1,
                           max_judgements_each=JUDGEMENTS_EACH)
    stats = crowd.run(timeout=120)

    assert [s.errors for s in stats] == [[]] * len(profiles)
    assert [s.judged for s in stats] == [JUDGEMENTS_EACH] * len(profiles)
    assert all(record.status_code == 201 for s in stats for record in s.records)
    judgements = Judgement.objects.filter(project=project)
    assert judgements.count() == JUDGEMENTS_EACH * len(profiles)
    # What each annotator chose is exactly what the server stored.
    stored = {(j.annotator.username, j.task_id): [tier[0] for tier in j.ranking] for j in judgements.select_related("annotator")}
    for s in stats:
        for record in s.records:
            assert stored[(s.username, record.task_id)] == record.ranking_response_ids
    # Overlap 2 holds under 6 concurrent annotators.
    assert max(ComparisonTask.objects.filter(project=project).values_list("judgement_count", flat=True)) <= 2
    assert not judgements.values("task", "annotator").annotate(n=Count("id")).filter(n__gt=1).exists()
    # The always-left spammer always picked the first response shown.
    lefty = next(p.username for p in profiles if p.behavior == ALWAYS_LEFT)
    assert set(judgements.filter(annotator__username=lefty).values_list("picked_first_shown", flat=True)) == {True}
    # Careful annotators mostly agree with the hidden gold reward (expected ~0.8; 0.55 leaves room for noise).
    careful = {p.username for p in profiles if p.behavior == BRADLEY_TERRY and not p.position_bias}
    agree = [
        record.gold_rewards[record.shown_response_ids.index(record.ranking_response_ids[0])] >= max(record.gold_rewards)
        for s in stats if s.username in careful for record in s.records
    ]
    assert sum(agree) / len(agree) > 0.55

    # A second crowd with the same seed (a re-run) judges on: idempotency keys never repeat.
    again = SimulatedCrowd(profiles, base_url=world_server.url, project_id=project.pk, seed=1,
                           max_judgements_each=2).run(timeout=120)
    assert [s.errors for s in again] == [[]] * len(profiles)
    assert judgements.count() == (JUDGEMENTS_EACH + 2) * len(profiles)


@pytest.mark.django_db(transaction=True)
def test_gold_reward_reads_the_prompt_shape_the_api_serves(world_server):
    call_command("demo", "--skip-policy", stdout=io.StringIO())
    project = Project.objects.get(name=DEMO_PROJECT_NAME)
    client = ApiClient(world_server.url)
    client.login("annotator", "prefloop-annotator")
    payload = client.request("POST", f"/api/projects/{project.pk}/next/").json()
    task = ComparisonTask.objects.get(pk=payload["task"]["id"])
    for shown in payload["task"]["responses"]:
        assert task.prompt.messages[0]["content"] in {p.text for p in demo_prompts()}
        assert gold_reward(payload["task"]["prompt"], shown["text"]) == gold_reward(
            task.prompt.messages[0]["content"], shown["text"]
        )

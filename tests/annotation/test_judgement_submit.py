"""Submitting judgements: validation, idempotency, leases, derived fields, undo, gold pause."""
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask, Judgement, Membership, Response
from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_replace, judgement_submit
from tests.annotation.factories import add_member, client_for, make_project, make_task, response_ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hot_path_impl")]


def leased(project, annotator=None):
    annotator = annotator or add_member(project)
    return annotator, assignment_next(project=project, annotator=annotator)


def submit_url(assignment):
    return f"/api/assignments/{assignment.pk}/judgement/"


def test_submit_records_the_verdict_and_derived_fields():
    project = make_project(overlap=1, criteria=["helpfulness"])
    task = make_task(project)
    low, high = sorted(response_ids(task))
    annotator, assignment = leased(project)
    shown_first = assignment.display_order[0]
    answer = client_for(annotator).post(submit_url(assignment), {
        "ranking": [[high], [low]], "strength": 3, "criteria": {"helpfulness": [[high], [low]]},
        "rationale": "clearer", "flags": ["pii"], "time_spent_ms": 4200, "client_id": "abc-1",
    }, format="json")
    assert answer.status_code == 201, answer.json()
    judgement = Judgement.objects.get(pk=answer.json()["id"])
    assert judgement.pair_outcome == Judgement.PairOutcome.HIGHER_ID_WINS
    assert judgement.picked_first_shown == (shown_first == high)
    assert judgement.strength == 3 and judgement.flags == ["pii"] and judgement.time_spent_ms == 4200
    task.refresh_from_db()
    assert task.judgement_count == 1 and task.is_complete
    assignment.refresh_from_db()
    assert assignment.state == Assignment.State.SUBMITTED


def test_a_tie_is_coded_as_a_tie():
    project = make_project()
    task = make_task(project)
    annotator, assignment = leased(project)
    judgement, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator,
                                    ranking=[response_ids(task)], client_id="tie")
    assert judgement.pair_outcome == Judgement.PairOutcome.TIE and judgement.picked_first_shown is None


def test_retry_with_the_same_client_id_returns_the_same_judgement():
    project = make_project(overlap=1)
    task = make_task(project)
    a, b = response_ids(task)
    annotator, assignment = leased(project)
    client = client_for(annotator)
    body = {"ranking": [[a], [b]], "client_id": "retry-me"}
    first = client.post(submit_url(assignment), body, format="json")
    second = client.post(submit_url(assignment), body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Judgement.objects.filter(client_id="retry-me").count() == 1
    task.refresh_from_db()
    assert task.judgement_count == 1
    # The same key for another assignment is a conflict; a new key on a judged assignment too.
    _, other_assignment = leased(make_project_with_task())
    reuse = client_for(other_assignment.annotator).post(submit_url(other_assignment), body, format="json")
    assert reuse.status_code == 409 and reuse.json()["field"] == "client_id"
    again = client.post(submit_url(assignment), {**body, "client_id": "new-key"}, format="json")
    assert again.status_code == 409


def make_project_with_task():
    project = make_project()
    make_task(project)
    return project


@pytest.mark.parametrize(
    "change, field",
    [
        ({"ranking": "LOWER"}, "ranking"),
        ({"ranking": [["x"], [1]]}, "ranking"),
        ({"ranking": "omit"}, "ranking"),
        ({"ranking": "repeat"}, "ranking"),
        ({"ranking": "foreign"}, "ranking"),
        ({"strength": 5}, "strength"),
        ({"strength": "tie"}, "strength"),
        ({"criteria": {"beauty": "ok"}}, "criteria"),
        ({"criteria": {"helpfulness": "omit"}}, "criteria.helpfulness"),
        ({"flags": ["rude"]}, "flags"),
        ({"time_spent_ms": -1}, "time_spent_ms"),
        ({"rationale": "x" * 100_001}, "rationale"),
        ({"client_id": ""}, "client_id"),
        ({"text": "I am a demonstration"}, "text"),
    ],
)
def test_invalid_verdicts_are_400_naming_the_field(change, field):
    project = make_project(criteria=["helpfulness"])
    task = make_task(project)
    foreign_task = make_task(make_project())
    a, b = response_ids(task)
    rankings = {"omit": [[a]], "repeat": [[a], [a, b]], "foreign": [[a], [response_ids(foreign_task)[0]]]}
    body = {"ranking": [[a], [b]], "client_id": "k"}
    for key, value in change.items():
        if key == "ranking":
            body["ranking"] = rankings.get(value, value) if isinstance(value, str) else value
        elif key == "strength" and value == "tie":
            body.update(ranking=[[a, b]], strength=2)
        elif key == "criteria":
            body["criteria"] = {n: rankings[v] if n == "helpfulness" else v for n, v in value.items()}
        else:
            body[key] = value
    annotator, assignment = leased(project)
    answer = client_for(annotator).post(submit_url(assignment), body, format="json")
    assert answer.status_code == 400, answer.json()
    payload = answer.json()
    assert payload.get("field") == field or field in payload, payload
    assert Judgement.objects.count() == 0


def test_rationale_required_by_the_project():
    project = make_project(rationale_required=True)
    task = make_task(project)
    annotator, assignment = leased(project)
    with pytest.raises(DomainError) as missing:
        judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[response_ids(task)], client_id="r")
    assert missing.value.field == "rationale"
    judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[response_ids(task)],
                     rationale="both fine", client_id="r")


def test_strength_only_for_pairwise_and_ranking_of_k():
    project = make_project(task_type="ranking", responses_per_task=3)
    task = make_task(project)
    a, b, c = response_ids(task)
    annotator, assignment = leased(project)
    with pytest.raises(DomainError) as refused:
        judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[[c], [a, b]], strength=2, client_id="s")
    assert refused.value.field == "strength"
    judgement, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[[c], [a, b]], client_id="s")
    assert judgement.pair_outcome is None and judgement.ranking == [[c], [a, b]]


def test_expired_and_foreign_assignments_are_refused():
    project = make_project(overlap=2)
    task = make_task(project)
    owner, assignment = leased(project)
    stranger = add_member(project)
    body = {"ranking": [response_ids(task)], "client_id": "x"}
    assert client_for(stranger).post(submit_url(assignment), body, format="json").status_code == 403
    outsider = add_member(make_project())
    assert client_for(outsider).post(submit_url(assignment), body, format="json").status_code == 404
    assert client_for(owner).post("/api/assignments/999999/judgement/", body, format="json").status_code == 404
    Assignment.objects.filter(pk=assignment.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client_for(owner).post(submit_url(assignment), body, format="json")
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]


def test_demonstration_tasks_take_text_and_create_a_human_response():
    project = make_project(task_type="demonstration")
    make_task(project, n_responses=0)
    annotator, assignment = leased(project)
    with pytest.raises(DomainError) as missing:
        judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id="d")
    assert missing.value.field == "text"
    judgement, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator, client_id="d",
                                    text="The tides follow the moon.")
    assert judgement.demonstration.source == Response.Source.HUMAN
    assert judgement.demonstration.text == "The tides follow the moon."


def test_replace_within_the_window_records_a_new_judgement_and_keeps_counters():
    project = make_project(overlap=1)
    task = make_task(project)
    a, b = response_ids(task)
    annotator, assignment = leased(project)
    original, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[[a], [b]], client_id="o")
    client = client_for(annotator)
    url = f"/api/judgements/{original.pk}/replace/"
    stranger = add_member(project)
    assert client_for(stranger).post(url, {"ranking": [[b], [a]], "client_id": "z"}, format="json").status_code == 403
    answer = client.post(url, {"ranking": [[b], [a]], "client_id": "undo-1"}, format="json")
    assert answer.status_code == 201 and answer.json()["replaces"] == original.pk
    assert client.post(url, {"ranking": [[b], [a]], "client_id": "undo-1"}, format="json").status_code == 200
    assert client.post(url, {"ranking": [[a], [b]], "client_id": "undo-2"}, format="json").status_code == 409
    original.refresh_from_db()
    assert original.ranking == [[a], [b]]  # nothing overwritten
    task.refresh_from_db()
    assert task.judgement_count == 1 and Judgement.objects.filter(task=task).count() == 2
    assert Judgement.objects.filter(task=task, replaced_by__isnull=True).get().ranking == [[b], [a]]


def test_replace_after_the_window_is_refused(settings):
    settings.JUDGEMENT_UNDO_SECONDS = 30
    project = make_project()
    task = make_task(project)
    annotator, assignment = leased(project)
    original, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[response_ids(task)], client_id="o")
    Assignment.objects.filter(pk=assignment.pk).update(finished_at=timezone.now() - timedelta(seconds=31))
    with pytest.raises(DomainError) as late:
        judgement_replace(judgement_id=original.pk, annotator=annotator, ranking=[response_ids(task)], client_id="n")
    assert late.value.http_status == 409


def test_gold_pause_rule_pauses_an_inaccurate_annotator():
    project = make_project(gold_rate=1.0, gold_min_items=3, gold_pause_threshold=0.7)
    for _ in range(4):
        make_task(project, purpose="gold", gold_ranking_positions=[[0], [1]])
    make_task(project)
    careless = add_member(project)
    for number in range(3):
        assignment = assignment_next(project=project, annotator=careless)
        task = ComparisonTask.objects.get(pk=assignment.task_id)
        right, wrong = task.gold_ranking[0][0], task.gold_ranking[1][0]
        ranking = [[right], [wrong]] if number == 0 else [[wrong], [right]]
        judgement_submit(assignment_id=assignment.pk, annotator=careless, ranking=ranking, client_id=f"g{number}")
    membership = Membership.objects.get(project=project, user=careless)
    assert membership.paused and "33%" in membership.paused_reason
    with pytest.raises(DomainError) as paused:
        assignment_next(project=project, annotator=careless)
    assert paused.value.http_status == 403
    # Gold judgements never complete a gold task: it stays available to others.
    assert not ComparisonTask.objects.filter(purpose="gold", is_complete=True).exists()


def test_accurate_annotators_are_not_paused():
    project = make_project(gold_rate=1.0, gold_min_items=2, gold_pause_threshold=0.7)
    for _ in range(2):
        make_task(project, purpose="gold", gold_ranking_positions=[[1], [0]])
    careful = add_member(project)
    for number in range(2):
        assignment = assignment_next(project=project, annotator=careful)
        task = ComparisonTask.objects.get(pk=assignment.task_id)
        judgement_submit(assignment_id=assignment.pk, annotator=careful, ranking=task.gold_ranking, client_id=f"ok{number}")
    assert not Membership.objects.get(project=project, user=careful).paused


def test_the_fast_payload_matches_the_documented_serializer():
    from annotation.api.serializers import JudgementSerializer
    from annotation.hot_path.payloads import judgement_payload
    from rest_framework.renderers import JSONRenderer
    import json

    project = make_project()
    task = make_task(project)
    annotator, assignment = leased(project)
    judgement, _ = judgement_submit(assignment_id=assignment.pk, annotator=annotator,
                                    ranking=[response_ids(task)], client_id="same-shape")
    fast = json.loads(JSONRenderer().render(judgement_payload(judgement)))
    documented = json.loads(JSONRenderer().render(JudgementSerializer(judgement).data))
    assert fast == documented


def test_deleting_a_project_takes_its_leases_and_judgements_with_it():
    """The project columns of assignments and judgements have no database constraint (see the
    models); Django's cascade must still remove them, and leave another project's alone."""
    project, other = make_project(overlap=1), make_project(overlap=1)
    for owner in (project, other):
        make_task(owner)
        annotator, assignment = leased(owner)
        judgement_submit(assignment_id=assignment.pk, annotator=annotator,
                         ranking=[[i] for i in assignment.display_order], client_id=f"gone-{owner.pk}")
    project.delete()
    assert not Assignment.objects.filter(project_id=project.pk).exists()
    assert not Judgement.objects.filter(project_id=project.pk).exists()
    assert Judgement.objects.filter(project=other).count() == 1 and Assignment.objects.filter(project=other).count() == 1


def test_a_paused_annotator_cannot_submit_on_a_lease_taken_before_the_pause():
    project = make_project(overlap=1)
    make_task(project)
    annotator, assignment = leased(project)
    a, b = assignment.display_order
    Membership.objects.filter(project=project, user=annotator).update(paused=True, paused_reason="Too fast.")
    with pytest.raises(DomainError) as refused:
        judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[[a], [b]], client_id="p-1")
    assert (refused.value.http_status, refused.value.code) == (403, "paused")
    answer = client_for(annotator).post(submit_url(assignment), {"ranking": [[a], [b]], "client_id": "p-2"},
                                        format="json")
    assert answer.status_code == 403, answer.json()
    assert answer.json()["code"] == "paused" and "Too fast." in answer.json()["detail"]
    assert not Judgement.objects.filter(assignment=assignment).exists()
    Membership.objects.filter(project=project, user=annotator).update(paused=False)
    answer = client_for(annotator).post(submit_url(assignment), {"ranking": [[a], [b]], "client_id": "p-3"},
                                        format="json")
    assert answer.status_code == 201


def test_a_retry_after_the_pause_still_gets_the_judgement_recorded_before_it():
    """The gold rule pauses right after a submit; that submit's network retry is not refused."""
    project = make_project(overlap=1)
    make_task(project)
    annotator, assignment = leased(project)
    a, b = assignment.display_order
    body = {"ranking": [[a], [b]], "client_id": "before-pause"}
    first = client_for(annotator).post(submit_url(assignment), body, format="json")
    Membership.objects.filter(project=project, user=annotator).update(paused=True)
    again = client_for(annotator).post(submit_url(assignment), body, format="json")
    assert (first.status_code, again.status_code) == (201, 200) and first.json() == again.json()

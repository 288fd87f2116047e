"""Bad input anywhere gets a 4xx naming the problem, never a 500; the schema and browsable API work."""
import json

import pytest
import yaml
from rest_framework.test import APIClient

from annotation.services.assignments import assignment_next
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, client_for, make_project, make_task, response_ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hot_path_impl")]

BAD_BODIES = [
    ("malformed", "{not json"),
    ("list", "[1, 2, 3]"),
    ("string", '"hello"'),
    ("null", "null"),
    ("wrong types", '{"name": 5, "ranking": "x", "client_id": 7, "reason": [], "format": {}, "records": 3,'
                    ' "username": [], "role": 1, "overlap": "many", "both_bad": "maybe", "strength": "x",'
                    ' "criteria": [], "flags": "unsafe", "time_spent_ms": "soon", "paused": "perhaps"}'),
    ("oversized", '{"name": "%s", "guidelines": "%s", "rationale": "%s", "reason": "%s", "client_id": "%s",'
                  ' "ranking": [[1]], "username": "%s", "role": "annotator"}'
     % ("n" * 300, "g" * 100_001, "r" * 100_001, "s" * 600, "c" * 200, "u" * 200)),
    ("empty", "{}"),
]


@pytest.fixture
def world():
    """A project with a leased and a judged assignment, and a second project seen by nobody here."""
    project = make_project(criteria=["honesty"])
    tasks = [make_task(project) for _ in range(2)]
    annotator = add_member(project)
    judged = assignment_next(project=project, annotator=annotator)
    a, b = response_ids(judged.task)
    judgement, _ = judgement_submit(assignment_id=judged.pk, annotator=annotator, ranking=[[a], [b]], client_id="w1")
    live = assignment_next(project=project, annotator=annotator)
    other = make_project()
    other_task = make_task(other)
    other_annotator = add_member(other)
    other_assignment = assignment_next(project=other, annotator=other_annotator)
    return {
        "project": project, "annotator": annotator, "manager": project.created_by, "live": live,
        "judgement": judgement, "task": tasks[0], "other": other, "other_task": other_task,
        "other_assignment": other_assignment,
    }


def endpoints(w):
    p, o = w["project"].pk, w["other"].pk
    return [
        ("post", "/api/auth/token/"), ("post", "/api/auth/session/"),
        ("post", "/api/projects/"), ("patch", f"/api/projects/{p}/"),
        ("post", f"/api/projects/{p}/members/"), ("patch", f"/api/projects/{p}/members/{w['annotator'].pk}/"),
        ("post", f"/api/projects/{p}/import/"), ("post", f"/api/projects/{p}/next/"),
        ("post", f"/api/assignments/{w['live'].pk}/judgement/"), ("post", f"/api/assignments/{w['live'].pk}/skip/"),
        ("post", f"/api/judgements/{w['judgement'].pk}/replace/"), ("post", f"/api/tasks/{w['task'].pk}/gold/"),
        # Someone else's and unknown ids.
        ("patch", f"/api/projects/{o}/"), ("post", f"/api/projects/{o}/import/"), ("post", f"/api/projects/{o}/next/"),
        ("post", f"/api/assignments/{w['other_assignment'].pk}/judgement/"),
        ("post", f"/api/tasks/{w['other_task'].pk}/gold/"), ("post", "/api/projects/999999/members/"),
        ("post", "/api/assignments/999999/skip/"), ("post", "/api/judgements/999999/replace/"),
        ("get", f"/api/projects/{o}/export/?format=trl"), ("get", f"/api/projects/{p}/export/?format=bogus"),
        ("get", f"/api/projects/{p}/tasks/?limit=abc"), ("get", f"/api/projects/{p}/tasks/?purpose=zzz"),
        ("get", "/api/tasks/999999/"), ("get", "/api/projects/abc/"),
    ]


@pytest.mark.parametrize("label, body", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_get_4xx_with_a_message_never_500(world, label, body):
    for user in (world["manager"], world["annotator"]):
        client = client_for(user)
        for method, url in endpoints(world):
            if method == "get":
                answer = client.get(url)
            else:
                answer = getattr(client, method)(url, data=body, content_type="application/json")
            # `next` takes no body, so any body is ignored there.
            ignores_body = url.endswith(f"/projects/{world['project'].pk}/next/")
            assert 400 <= answer.status_code < 500 or (
                (label == "empty" or ignores_body) and answer.status_code in (200, 204)
            ), (method, url, label, answer.status_code)
            if answer.status_code == 400 and answer["Content-Type"].startswith("application/json"):
                payload = answer.json()
                assert payload, (method, url, label)
                assert "detail" in payload or "field" in payload or isinstance(payload, dict), payload


def test_other_projects_ids_are_404_not_403_or_500(world):
    client = client_for(world["annotator"])
    assert client.get(f"/api/projects/{world['other'].pk}/").status_code == 404
    assert client.post(f"/api/assignments/{world['other_assignment'].pk}/judgement/",
                       {"ranking": [[1], [2]], "client_id": "zz"}, format="json").status_code == 404
    assert client.post(f"/api/projects/{world['other'].pk}/next/").status_code == 404


def test_ranking_errors_name_the_field(world):
    client = client_for(world["annotator"])
    answer = client.post(f"/api/assignments/{world['live'].pk}/judgement/",
                         {"ranking": [[1, 2, 3]], "client_id": "q"}, format="json")
    assert answer.status_code == 400 and answer.json()["field"] == "ranking"


def test_unauthenticated_calls_are_refused():
    client = APIClient()
    for url in ("/api/me/", "/api/projects/", "/api/projects/1/next/"):
        assert client.post(url).status_code in (401, 403)


def test_openapi_schema_is_valid_and_lists_the_contract(world):
    answer = client_for(world["manager"]).get("/api/schema/")
    assert answer.status_code == 200
    schema = yaml.safe_load(answer.content)
    assert schema["openapi"].startswith("3.")
    for path in ("/api/auth/token/", "/api/projects/", "/api/projects/{project_id}/members/",
                 "/api/projects/{project_id}/import/", "/api/projects/{project_id}/next/",
                 "/api/assignments/{assignment_id}/judgement/", "/api/assignments/{assignment_id}/skip/",
                 "/api/projects/{project_id}/export/"):
        assert path in schema["paths"], path


def test_browsable_api_renders_html(world):
    client = APIClient()
    client.force_login(world["manager"])
    answer = client.get("/api/projects/", HTTP_ACCEPT="text/html")
    assert answer.status_code == 200 and b"<html" in answer.content.lower()


def test_ids_beyond_the_database_range_are_404(world):
    client = client_for(world["manager"])
    huge = "9" * 30
    assert client.get(f"/api/projects/{huge}/").status_code == 404
    assert client.post(f"/api/assignments/{huge}/skip/", {"reason": "x"}, format="json").status_code == 404
    assert client.post(f"/api/tasks/{huge}/gold/", {"ranking": [[1]]}, format="json").status_code == 404
    answer = client.post(f"/api/projects/{world['project'].pk}/import/",
                         {"format": "tasks", "records": [{"prompt": "p", "responses": ["a", "b"], "priority": 10**30}]},
                         format="json")
    assert answer.status_code == 200 and answer.json()["errors"][0]["line"] == 1


OUT_OF_RANGE_IDS = [2**63, 2**64 + 5, 10**30, -1, -(2**63) - 1, 0]
DRF_WAY = {"HTTP_ACCEPT": "application/json, text/plain"}  # an Accept the hot path leaves to DRF's view


def test_the_annotate_loop_answers_ids_out_of_bigint_range_as_drf_does(world):
    """Path ids a bigint cannot hold are 404, ranking ids 400 naming the ranking: by the hot path
    (the SQL function never sees them) exactly as by DRF's own view."""
    client = client_for(world["annotator"])
    live = world["live"]
    a, b = live.display_order

    def both_ways(url, body=None):
        kwargs = {"data": json.dumps(body or {}), "content_type": "application/json"}
        return client.post(url, **kwargs), client.post(url, **kwargs, **DRF_WAY)

    for huge in (2**63, 10**30):
        for url in (f"/api/projects/{huge}/next/", f"/api/assignments/{huge}/judgement/"):
            fast, drf = both_ways(url, {"ranking": [[a], [b]], "client_id": f"huge-{huge}"})
            assert fast.status_code == drf.status_code == 404, (url, fast.content)
            assert fast.content == drf.content
    for number, bad in enumerate(OUT_OF_RANGE_IDS):
        body = {"ranking": [[a], [bad]], "client_id": f"bad-id-{number}"}
        fast, drf = both_ways(f"/api/assignments/{live.pk}/judgement/", body)
        assert fast.status_code == drf.status_code == 400, (bad, fast.content)
        assert fast.json()["field"] == "ranking" and fast.content == drf.content
    assert live.judgements.count() == 0


def test_absurdly_nested_json_is_400(world):
    client = client_for(world["annotator"])
    body = "[" * 100_000 + "]" * 100_000
    answer = client.post(f"/api/assignments/{world['live'].pk}/judgement/", data=body, content_type="application/json")
    assert answer.status_code == 400


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 10_000

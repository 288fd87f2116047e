"""Importing hh / trl / prompts / tasks: per-line errors, atomic lines, idempotent re-imports."""
import gzip
import io
import json
from pathlib import Path

import pytest

from annotation.models import ComparisonTask, Prompt, Response, TaskResponse
from annotation.services.imports import import_run
from tests.annotation.factories import add_member, client_for, make_project

pytestmark = pytest.mark.django_db
HH_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "hh-harmless-1500.jsonl.gz"

HH_LINE = {
    "chosen": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: Why did the chicken cross the road?",
    "rejected": "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: Tell me a joke\n\nAssistant: No.",
}


def jsonl(*rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def test_real_hh_file_creates_1500_tasks_and_reimport_creates_none():
    assert HH_FILE.exists(), f"the shared HH data is missing at {HH_FILE}"
    project = make_project()
    result = import_run(project=project, actor=project.created_by, format="hh", raw=HH_FILE.read_bytes())
    assert result.errors == [] and result.created == 1500
    assert ComparisonTask.objects.filter(project=project).count() == 1500
    assert TaskResponse.objects.filter(task__project=project).count() == 3000
    task = ComparisonTask.objects.filter(project=project).first()
    assert task.prompt.messages[0]["role"] == "user" and task.prompt.messages[-1]["role"] == "user"
    again = import_run(project=project, actor=project.created_by, format="hh", raw=HH_FILE.read_bytes())
    assert (again.created, again.skipped_duplicates) == (0, 1500)
    assert ComparisonTask.objects.filter(project=project).count() == 1500


def test_hh_splits_shared_conversation_and_final_turns():
    project = make_project()
    result = import_run(project=project, actor=project.created_by, format="hh", records=[HH_LINE])
    assert result.created == 1
    task = ComparisonTask.objects.get(project=project)
    assert task.prompt.messages == [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me a joke"},
    ]
    texts = [tr.response.text for tr in task.task_responses.all()]
    assert texts == ["Why did the chicken cross the road?", "No."]
    chosen_id = task.task_responses.get(position=0).response_id
    assert task.metadata["source_ranking"][0] == [chosen_id]


def test_bad_lines_are_reported_with_line_numbers_and_good_lines_kept():
    project = make_project()
    raw = jsonl(
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        "{not json",
        {"prompt": "3+3?", "chosen": "6"},
        [1, 2],
        {"prompt": "x" * 100_001, "chosen": "a", "rejected": "b"},
        {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hello"}],
         "rejected": [{"role": "assistant", "content": "go away"}]},
        {"prompt": "same", "chosen": "a", "rejected": "a"},
    )
    answer = client_for(project.created_by).post(
        f"/api/projects/{project.pk}/import/", {"format": "trl", "file": io.BytesIO(raw)}, format="multipart"
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["created"] == 2 and body["skipped_duplicates"] == 0
    assert [e["line"] for e in body["errors"]] == [2, 3, 4, 5, 7]
    assert "JSON" in body["errors"][0]["message"] and "rejected" in body["errors"][1]["message"]
    assert "100000" in body["errors"][3]["message"]
    # No half-written record: only the two good lines' prompts and responses exist.
    assert Prompt.objects.filter(project=project).count() == 2
    assert Response.objects.filter(prompt__project=project).count() == 4


def test_gzip_upload_and_idempotent_reimport_through_the_api():
    project = make_project()
    raw = gzip.compress(jsonl(HH_LINE, {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}))
    client = client_for(project.created_by)
    url = f"/api/projects/{project.pk}/import/"
    first = client.post(url, {"format": "hh", "file": io.BytesIO(raw)}, format="multipart").json()
    second = client.post(url, {"format": "hh", "file": io.BytesIO(raw)}, format="multipart").json()
    assert (first["created"], second["created"], second["skipped_duplicates"]) == (2, 0, 2)


def test_tasks_format_with_purpose_priority_and_gold():
    project = make_project(task_type="ranking", responses_per_task=3)
    records = [
        {"prompt": "Name a color", "responses": ["red", "blue", {"text": "seven"}], "priority": 5},
        {"messages": [{"role": "user", "content": "Pick"}], "responses": ["a", "b", "c"], "purpose": "gold",
         "gold_ranking": [[2], [0, 1]]},
        {"prompt": "Gold without answer", "responses": ["a", "b", "c"], "purpose": "gold"},
        {"prompt": "Two only", "responses": ["a", "b"]},
        {"prompt": "Bad purpose", "responses": ["a", "b", "c"], "purpose": "fun"},
    ]
    answer = client_for(project.created_by).post(
        f"/api/projects/{project.pk}/import/", {"format": "tasks", "records": records}, format="json"
    ).json()
    assert answer["created"] == 2
    assert [e["line"] for e in answer["errors"]] == [3, 4, 5]
    gold = ComparisonTask.objects.get(project=project, purpose="gold")
    ids = list(gold.task_responses.values_list("response_id", flat=True))
    assert gold.gold_ranking == [[ids[2]], [ids[0], ids[1]]]
    assert ComparisonTask.objects.get(project=project, purpose="training").priority == 5


def test_hh_import_as_gold_takes_chosen_as_the_known_answer():
    project = make_project()
    result = import_run(project=project, actor=project.created_by, format="hh", records=[HH_LINE], purpose="gold")
    task = ComparisonTask.objects.get(project=project)
    assert result.created == 1 and task.purpose == "gold"
    assert task.gold_ranking == task.metadata["source_ranking"]


def test_prompts_format_and_demonstration_projects():
    project = make_project()
    result = import_run(project=project, actor=project.created_by, format="prompts",
                        records=[{"prompt": "Write a haiku"}, {"messages": [{"role": "user", "content": "Hi"}]},
                                 {"prompt": "Write a haiku"}, {"nothing": 1}])
    assert (result.created, result.skipped_duplicates, len(result.errors)) == (2, 1, 1)
    assert ComparisonTask.objects.filter(project=project).count() == 0
    demo = make_project(task_type="demonstration")
    import_run(project=demo, actor=demo.created_by, format="prompts", records=[{"prompt": "Explain tides"}])
    task = ComparisonTask.objects.get(project=demo)
    assert task.task_responses.count() == 0
    refused = import_run(project=demo, actor=demo.created_by, format="hh", records=[HH_LINE])
    assert refused.created == 0 and "demonstration" in refused.errors[0]["message"]


def test_import_is_for_managers_and_validates_the_request():
    project = make_project()
    annotator = add_member(project)
    url = f"/api/projects/{project.pk}/import/"
    assert client_for(annotator).post(url, {"format": "trl", "records": []}, format="json").status_code == 403
    manager = client_for(project.created_by)
    assert "format" in manager.post(url, {"format": "csv", "records": []}, format="json").json()
    assert "file" in manager.post(url, {"format": "trl"}, format="json").json()
    broken_gzip = manager.post(url, {"format": "hh", "file": io.BytesIO(b"\x1f\x8bnot really")}, format="multipart")
    assert broken_gzip.status_code == 400 and broken_gzip.json()["field"] == "file"


def test_mark_gold_endpoint():
    project = make_project()
    import_run(project=project, actor=project.created_by, format="trl",
               records=[{"prompt": "p", "chosen": "good", "rejected": "bad"}])
    task = ComparisonTask.objects.get(project=project)
    a, b = task.task_responses.values_list("response_id", flat=True)
    url = f"/api/tasks/{task.pk}/gold/"
    annotator = add_member(project)
    assert client_for(annotator).post(url, {"ranking": [[a], [b]]}, format="json").status_code == 403
    manager = client_for(project.created_by)
    omitted = manager.post(url, {"ranking": [[a]]}, format="json")
    assert omitted.status_code == 400 and omitted.json()["field"] == "ranking"
    answer = manager.post(url, {"ranking": [[b], [a]]}, format="json")
    assert answer.status_code == 200 and answer.json()["purpose"] == "gold"
    assert answer.json()["gold_ranking"] == [[b], [a]]
    other = make_project()
    assert client_for(other.created_by).post(url, {"ranking": [[b], [a]]}, format="json").status_code == 404

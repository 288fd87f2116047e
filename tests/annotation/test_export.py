"""Exports: trl consensus pairs that TRL's RewardTrainer reads, hh transcripts, raw judgements."""
import json

import pytest

from annotation.services.assignments import assignment_next
from annotation.services.imports import import_run
from annotation.services.judgements import judgement_submit
from tests.annotation.factories import add_member, client_for, make_project

pytestmark = pytest.mark.django_db


def annotate_all(project, annotators, *, prefer_longer=True, strength=3):
    """Every annotator judges every task they are offered, preferring the longer response."""
    for annotator in annotators:
        while (assignment := assignment_next(project=project, annotator=annotator)) is not None:
            texts = {r.response_id: len(r.response.text) for r in assignment.task.task_responses.select_related("response")}
            ordered = sorted(texts, key=texts.get, reverse=prefer_longer)
            judgement_submit(assignment_id=assignment.pk, annotator=annotator, ranking=[[i] for i in ordered],
                             strength=strength, client_id=f"{annotator.pk}-{assignment.pk}", time_spent_ms=1000)


def read_jsonl(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def judged_text_project():
    project = make_project(overlap=2)
    records = [{"prompt": f"Question {i}?", "chosen": f"A long and careful answer {i}", "rejected": f"Short {i}"}
               for i in range(6)]
    import_run(project=project, actor=project.created_by, format="trl", records=records)
    annotate_all(project, [add_member(project), add_member(project)])
    return project


def test_trl_export_loads_with_datasets_and_has_reward_trainer_columns(judged_text_project, tmp_path):
    import datasets

    rows = read_jsonl(client_for(judged_text_project.created_by).get(
        f"/api/projects/{judged_text_project.pk}/export/?format=trl"))
    assert len(rows) == 6
    assert all(r["chosen"].startswith("A long") and r["rejected"].startswith("Short") for r in rows)
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    assert {"prompt", "chosen", "rejected", "margin"} <= set(dataset.column_names)
    assert dataset.num_rows == 6 and all(0 < m <= 1 for m in dataset["margin"])


def test_trl_export_of_conversations_is_conversational(tmp_path):
    import datasets

    project = make_project()
    hh = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello, how can I help you today?",
          "rejected": "\n\nHuman: Hi\n\nAssistant: What."}
    import_run(project=project, actor=project.created_by, format="hh", records=[hh])
    annotate_all(project, [add_member(project)])
    rows = read_jsonl(client_for(project.created_by).get(f"/api/projects/{project.pk}/export/?format=trl"))
    assert rows[0]["prompt"] == [{"role": "user", "content": "Hi"}]
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "Hello, how can I help you today?"}]
    path = tmp_path / "conv.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    dataset = datasets.load_dataset("json", data_files=str(path), split="train")
    assert dataset[0]["rejected"] == [{"role": "assistant", "content": "What."}]
    hh_rows = read_jsonl(client_for(project.created_by).get(f"/api/projects/{project.pk}/export/?format=hh"))
    assert hh_rows == [{"chosen": hh["chosen"], "rejected": hh["rejected"]}]


def test_judgements_export_has_every_raw_judgement(judged_text_project):
    rows = read_jsonl(client_for(judged_text_project.created_by).get(
        f"/api/projects/{judged_text_project.pk}/export/?format=judgements"))
    assert len(rows) == 12
    first = rows[0]
    assert {"annotator", "display_order", "time_spent_ms", "leased_at", "created_at", "ranking", "strength"} <= set(first)
    assert sorted(first["display_order"]) == sorted(i for tier in first["ranking"] for i in tier)


def test_export_permissions_and_format(judged_text_project):
    url = f"/api/projects/{judged_text_project.pk}/export/"
    annotator = add_member(judged_text_project)
    assert client_for(annotator).get(url + "?format=trl").status_code == 403
    manager = client_for(judged_text_project.created_by)
    bad = manager.get(url + "?format=csv")
    assert bad.status_code == 400 and bad.json()["field"] == "format"
    assert manager.get(url).status_code == 400
    engineer = add_member(judged_text_project, role="engineer")
    assert client_for(engineer).get(url + "?format=judgements").status_code == 200

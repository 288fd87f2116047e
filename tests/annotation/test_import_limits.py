"""Imports are bounded and never answer 500: a gzip bomb, a huge upload, text Postgres cannot
store (NUL, lone surrogates) and absurdly nested lines are refused or reported line by line,
and an import that fails leaves nothing behind."""
import gzip
import io
import json
import tracemalloc

import pytest
from django.db import DataError

from annotation.models import ComparisonTask, Prompt
from annotation.services import imports as import_service
from annotation.services.imports import import_run
from tests.annotation.factories import client_for, make_project

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def jsonl(*rows) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def upload(project, raw: bytes, fmt: str = "trl"):
    return client_for(project.created_by).post(
        f"/api/projects/{project.pk}/import/", {"format": fmt, "file": io.BytesIO(raw)}, format="multipart"
    )


def test_a_gzip_bomb_gets_413_naming_the_limit_without_unpacking_it_into_memory(settings):
    settings.IMPORT_MAX_DECOMPRESSED_BYTES = 1 * MIB
    project = make_project()
    good = jsonl({"prompt": "2+2?", "chosen": "4", "rejected": "5"})
    # Lines of blanks (under the line limits), 64 MiB of them.
    bomb = gzip.compress(good + (b" " * 1023 + b"\n") * (64 * 1024), compresslevel=9)
    assert len(bomb) < 200 * 1024  # a small file that unpacks to 64 MiB
    assert upload(make_project(), good).status_code == 200  # loads the code paths before measuring
    tracemalloc.start()
    try:
        answer = upload(project, bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 413, answer.content
    assert "IMPORT_MAX_DECOMPRESSED_BYTES" in answer.json()["detail"] and answer.json()["field"] == "file"
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB while refusing the bomb"
    # The good first line was not kept: a refused import writes nothing.
    assert not Prompt.objects.filter(project=project).exists()


def test_a_file_over_the_line_limit_gets_413_naming_it(settings):
    settings.IMPORT_MAX_LINES = 3
    project = make_project()
    raw = jsonl(*({"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(5)))
    answer = upload(project, raw)
    assert answer.status_code == 413 and "IMPORT_MAX_LINES" in answer.json()["detail"]
    assert not Prompt.objects.filter(project=project).exists()


def test_a_line_over_the_line_size_limit_is_one_bad_line(settings):
    settings.IMPORT_MAX_LINE_BYTES = 1024
    project = make_project()
    raw = jsonl(
        {"prompt": "short", "chosen": "a", "rejected": "b"},
        {"prompt": "x" * 5000, "chosen": "a", "rejected": "b"},
        {"prompt": "also short", "chosen": "a", "rejected": "b"},
    )
    body = upload(project, raw).json()
    assert body["created"] == 2 and [e["line"] for e in body["errors"]] == [2]
    assert "IMPORT_MAX_LINE_BYTES" in body["errors"][0]["message"]


def test_an_upload_over_the_upload_limit_gets_413_before_it_is_parsed(settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 64 * 1024
    project = make_project()
    raw = jsonl(*({"prompt": f"question {i}", "chosen": "a", "rejected": "b"} for i in range(3000)))
    assert len(raw) > 64 * 1024
    answer = upload(project, raw)
    assert answer.status_code == 413, answer.content
    assert "IMPORT_MAX_UPLOAD_BYTES" in answer.json()["detail"]
    assert not Prompt.objects.filter(project=project).exists()


@pytest.mark.parametrize("bad", ["nul \u0000 inside", "lone \ud800 surrogate"])
def test_text_postgres_cannot_store_is_a_bad_line_naming_the_field_and_the_rest_is_imported(bad):
    project = make_project(task_type="ranking", responses_per_task=2)
    good = {"prompt": "fine", "responses": ["a", "b"]}
    lines = [
        good,
        {"prompt": bad, "responses": ["a", "b"]},
        {"prompt": "ok 2", "responses": ["a", bad]},
        {"messages": [{"role": "user", "content": bad}], "responses": ["a", "b"]},
        {"prompt": "ok 3", "responses": ["a", "b"], "metadata": {"note": bad}},
        {"prompt": "ok 4", "responses": ["a", "b"], "metadata": {bad: 1}},
        {"prompt": "last", "responses": ["c", "d"]},
    ]
    # json.dumps writes \u0000 and \ud800 as escapes: the file itself is valid UTF-8 JSON.
    answer = upload(project, jsonl(*lines), fmt="tasks")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["created"] == 2 and [e["line"] for e in body["errors"]] == [2, 3, 4, 5, 6]
    messages = [e["message"] for e in body["errors"]]
    assert "prompt" in messages[0] and "responses[1]" in messages[1] and "messages[0].content" in messages[2]
    assert "metadata.note" in messages[3] and "metadata" in messages[4]
    # The records list takes the same path (json.dumps escapes what DRF's renderer cannot encode).
    listed = client_for(project.created_by).post(
        f"/api/projects/{project.pk}/import/", json.dumps({"format": "tasks", "records": lines}),
        content_type="application/json",
    )
    assert listed.status_code == 200 and [e["line"] for e in listed.json()["errors"]] == [2, 3, 4, 5, 6]


def test_a_too_deeply_nested_line_is_one_bad_line():
    project = make_project()
    deep = "[" * 100_000 + "]" * 100_000
    raw = jsonl({"prompt": "a", "chosen": "b", "rejected": "c"}, deep, {"prompt": "d", "chosen": "e", "rejected": "f"})
    answer = upload(project, raw)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["created"] == 2 and [e["line"] for e in body["errors"]] == [2]
    assert "nested" in body["errors"][0]["message"]


def test_an_import_that_fails_midway_keeps_none_of_its_lines(monkeypatch):
    project = make_project()
    written = []
    real = import_service._import_record

    def fail_on_third(project, record, purpose):
        written.append(record)
        if len(written) == 3:
            raise DataError("the database refused the row")
        return real(project, record, purpose)

    monkeypatch.setattr(import_service, "_import_record", fail_on_third)
    records = [{"prompt": f"q{i}", "chosen": "a", "rejected": "b"} for i in range(4)]
    with pytest.raises(DataError):
        import_run(project=project, actor=project.created_by, format="trl", records=records)
    assert not Prompt.objects.filter(project=project).exists()
    assert not ComparisonTask.objects.filter(project=project).exists()


def test_a_json_body_over_the_request_limit_gets_413(settings):
    # Django refuses the body; the API answers a JSON 413 naming the limit, not a bare HTML 400.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    project = make_project()
    records = [{"prompt": f"question {i}", "chosen": "a", "rejected": "b"} for i in range(1000)]
    answer = client_for(project.created_by).post(
        f"/api/projects/{project.pk}/import/", {"format": "trl", "records": records}, format="json"
    )
    assert answer.status_code == 413, answer.status_code
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in answer.json()["detail"]
    assert not Prompt.objects.filter(project=project).exists()
    # Other JSON endpoints too.
    renamed = client_for(project.created_by).patch(f"/api/projects/{project.pk}/", {"guidelines": "x" * 20_000},
                                                   format="json")
    assert renamed.status_code == 413

"""The one JSONL reader and writer (training.jsonl) the commands, the workers and the simulation share."""
import pytest

from training.errors import TrainingUserError
from training.jsonl import read_jsonl, write_jsonl


def test_rows_come_back_as_written_with_non_ascii_text_kept(tmp_path):
    rows = [{"prompt": "Grüß dich", "id": 1}, {"prompt": [{"role": "user", "content": "你好"}], "id": 2}]
    path = write_jsonl(tmp_path / "new" / "rows.jsonl", rows)
    assert read_jsonl(path) == rows
    assert "Grüß dich" in path.read_text(encoding="utf-8")  # readable in an editor, not \u escapes
    assert sorted(p.name for p in path.parent.iterdir()) == ["rows.jsonl"]  # no temporary file left behind


def test_a_bad_line_is_named_by_file_and_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(TrainingUserError, match=r"rows.jsonl:3: expected a JSON object, got list"):
        read_jsonl(path)
    with pytest.raises(TrainingUserError, match=r"missing.jsonl: no such file"):
        read_jsonl(tmp_path / "missing.jsonl")

"""JSON Lines files, read and written one way everywhere: the training commands, the workers that
prepare their inputs and read their outputs, and the synthetic world. Standard library only, so a
process that must not import torch (a Celery worker, the web) can use it.
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from training.errors import TrainingUserError


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` for each non-blank line of a JSONL (or .jsonl.gz) file.

    A missing file, a line that is not JSON or not an object raises `TrainingUserError` naming
    `file:line`, so a user can open the file and fix it."""
    path = Path(path)
    if not path.is_file():
        raise TrainingUserError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise TrainingUserError(f"{path}:{number}: not valid JSON ({error.msg})") from None
                if not isinstance(row, dict):
                    raise TrainingUserError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
                yield number, row
    except UnicodeDecodeError:
        raise TrainingUserError(f"{path}: not UTF-8 text") from None
    except (OSError, EOFError) as error:
        raise TrainingUserError(f"{path}: cannot read ({error})") from None


def read_jsonl(path: str | Path) -> list[dict]:
    """Every object of a JSONL file, in order (errors as `iter_jsonl`)."""
    return [row for _, row in iter_jsonl(path)]


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> Path:
    """Writes rows as JSONL (UTF-8, non-ASCII kept), creating the folder; returns the path.

    Atomic: rows go to a temporary file that is renamed into place, so a reader never sees half
    a file, even when the writer is killed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    temporary.replace(path)
    return path

"""Importing prompts and comparison tasks, line by line: bad lines are reported, good lines kept."""
import io
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, OperationalError, transaction

from annotation.errors import DomainError
from annotation.importers import (
    FORMATS,
    ImportLimits,
    ImportTooLarge,
    PromptRecord,
    RecordError,
    TaskRecord,
    parse_line,
    parse_records,
    read_lines,
)
from annotation.models import ComparisonTask, Project
from annotation.permissions import MANAGE_ROLES, require_role
from annotation.services.tasks import prompt_get_or_create, response_get_or_create, task_create

MAX_REPORTED_ERRORS = 1000
DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE


@dataclass
class ImportResult:
    created: int = 0
    skipped_duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    errors_not_shown: int = 0

    def add_error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "message": message})
        else:
            self.errors_not_shown += 1

    def as_dict(self) -> dict:
        body = {"created": self.created, "skipped_duplicates": self.skipped_duplicates, "errors": self.errors}
        if self.errors_not_shown:
            body["errors_not_shown"] = self.errors_not_shown
        return body


def _check_fits_project(project: Project, record: PromptRecord | TaskRecord) -> None:
    demonstration = project.task_type == Project.TaskType.DEMONSTRATION
    if isinstance(record, PromptRecord):
        return
    n = len(record.responses)
    if demonstration:
        if n:
            raise RecordError("a demonstration project takes prompts without responses.")
    elif n != project.responses_per_task:
        raise RecordError(f"this project compares {project.responses_per_task} responses per task, the line has {n}.")


def _import_record(project: Project, record: PromptRecord | TaskRecord, purpose: str | None) -> bool:
    """Writes one record; True if something new was created, False if it was all there already."""
    prompt, prompt_created = prompt_get_or_create(
        project=project, text=record.text if isinstance(record, PromptRecord) else record.prompt.text,
        messages=record.messages if isinstance(record, PromptRecord) else record.prompt.messages,
        split=record.split if isinstance(record, PromptRecord) else record.prompt.split,
        metadata=record.metadata if isinstance(record, PromptRecord) else record.prompt.metadata,
    )
    if isinstance(record, PromptRecord):
        if project.task_type != Project.TaskType.DEMONSTRATION:
            return prompt_created
        # A demonstration project asks annotators to write the answer to each prompt.
        _, created = task_create(project=project, prompt=prompt, responses=[], purpose=purpose or "training")
        return created
    responses = [response_get_or_create(prompt=prompt, text=text) for text in record.responses]

    def ids(positions):
        return [[responses[p].pk for p in tier] for tier in positions] if positions else None

    task_purpose = record.purpose if record.purpose != "training" or purpose is None else purpose
    gold = ids(record.gold_ranking)
    if task_purpose == ComparisonTask.Purpose.GOLD and gold is None:
        gold = ids(record.source_ranking)
        if gold is None:
            raise RecordError("a gold task needs gold_ranking.")
    metadata = dict(record.metadata)
    if record.source_ranking:
        metadata["source_ranking"] = ids(record.source_ranking)
    _, created = task_create(
        project=project, prompt=prompt, responses=responses, purpose=task_purpose,
        priority=record.priority, gold_ranking=gold, metadata=metadata,
    )
    return created


def import_limits() -> ImportLimits:
    """The IMPORT_MAX_* settings, read at call time (tests and deployments change them)."""
    return ImportLimits(
        max_decompressed_bytes=settings.IMPORT_MAX_DECOMPRESSED_BYTES,
        max_lines=settings.IMPORT_MAX_LINES,
        max_line_bytes=settings.IMPORT_MAX_LINE_BYTES,
    )


def _file_values(stream: BinaryIO) -> Iterator[tuple[int, object]]:
    """(line number, decoded JSON value or RecordError) of each non-blank line, streamed."""
    for number, line in read_lines(stream, import_limits()):
        if isinstance(line, RecordError):
            yield number, line
            continue
        try:
            yield number, parse_line(line)
        except RecordError as error:
            yield number, error


@transaction.atomic
def import_run(*, project: Project, actor: AbstractBaseUser, format: str, raw: bytes | BinaryIO | None = None,
               records: list | None = None, purpose: str | None = None) -> ImportResult:
    """Imports a JSONL file (`raw`: bytes or a binary file, gzip accepted) or a list of `records`.

    Each line is written in its own savepoint: a bad line is reported as `{line, message}` and
    leaves nothing behind, good lines are kept. The whole import is one transaction, so an import
    that fails (a file over the IMPORT_MAX_* limits: 413; an unreadable file: 400) keeps none of
    its lines. Content hashes make a re-import create nothing new (`skipped_duplicates`).
    `purpose` (e.g. "gold") applies to lines that do not set one; for `hh`/`trl` gold tasks the
    source's chosen > rejected is the known answer.
    """
    require_role(user=actor, project=project, roles=MANAGE_ROLES, action="import data")
    if format not in FORMATS:
        raise DomainError(f"format must be one of {', '.join(FORMATS)}.", field="format")
    if purpose is not None and purpose not in ComparisonTask.Purpose.values:
        raise DomainError(f"purpose must be one of {', '.join(ComparisonTask.Purpose.values)}.", field="purpose")
    result = ImportResult()
    if raw is not None:
        decoded = _file_values(io.BytesIO(raw) if isinstance(raw, (bytes, bytearray)) else raw)
    else:
        decoded = enumerate(records or [], start=1)

    def lines():
        for number, value in decoded:
            if isinstance(value, RecordError):
                result.add_error(number, str(value))
            else:
                yield number, value

    try:
        for number, record in parse_records(format, lines()):
            if isinstance(record, RecordError):
                result.add_error(number, str(record))
                continue
            _write_line(project, number, record, purpose, result)
    except ImportTooLarge as error:
        raise DomainError(str(error), code="too_large", http_status=413, field="file") from error
    except RecordError as error:  # the file as a whole is unreadable
        raise DomainError(str(error), field="file") from error
    return result


def _write_line(project: Project, number: int, record, purpose: str | None, result: ImportResult) -> None:
    # Two attempts: a concurrent import of the same content makes the first one collide on a
    # unique content hash (or, writing the same rows in another order, deadlock with it); the
    # second then finds the other import's rows.
    for attempt in range(2):
        try:
            _check_fits_project(project, record)
            with transaction.atomic():
                created = _import_record(project, record, purpose)
        except RecordError as error:
            result.add_error(number, str(error))
            return
        except DomainError as error:
            result.add_error(number, error.message)
            return
        except (IntegrityError, OperationalError) as error:
            if isinstance(error, OperationalError) and getattr(error.__cause__, "sqlstate", None) != DEADLOCK_DETECTED:
                raise
            if attempt == 1:
                result.add_error(number, "conflicted with a concurrent import; import the file again.")
            continue
        if created:
            result.created += 1
        else:
            result.skipped_duplicates += 1
        return

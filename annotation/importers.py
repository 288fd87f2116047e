"""Parsing import files into plain records; no database access here.

Formats (one JSON object per line):
- `hh`: Anthropic HH `{chosen, rejected}` full dialogues -> the shared conversation becomes the
  prompt, the two final assistant turns the responses (chosen first; gold ranking chosen > rejected).
- `trl`: `{prompt, chosen, rejected}` as text, or as message lists (TRL's conversational format).
- `prompts`: `{prompt}` or `{messages}` (prompts alone; responses come later from a policy).
- `tasks`: `{prompt | messages, responses: [text | {text, metadata}], purpose?, priority?,
  gold_ranking? (tiers of response positions), split?, metadata?}`.
"""
from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Iterator

from annotation.input_checks import unstorable_json

FORMATS = ("hh", "trl", "prompts", "tasks")
MAX_TEXT_CHARS = 100_000
ROLES = ("system", "user", "assistant")
PURPOSES = ("training", "evaluation", "gold")
SPLITS = ("train", "eval")


class RecordError(ValueError):
    """A line that cannot be imported; the message names the problem."""


@dataclass
class PromptRecord:
    text: str = ""
    messages: list[dict] | None = None
    split: str = "train"
    metadata: dict = field(default_factory=dict)


@dataclass
class TaskRecord:
    prompt: PromptRecord
    responses: list[str]
    purpose: str = "training"
    priority: int = 0
    # Tiers of positions into `responses`, best first (the known answer of a gold task).
    gold_ranking: list[list[int]] | None = None
    # The ranking the source data carries (e.g. HH's chosen > rejected), as positions.
    source_ranking: list[list[int]] | None = None
    metadata: dict = field(default_factory=dict)


class ImportTooLarge(ValueError):
    """The file exceeds one of the import limits; the message names the setting."""


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on one JSONL file (the IMPORT_MAX_* settings)."""

    max_decompressed_bytes: int
    max_lines: int
    max_line_bytes: int


_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_CHUNK = 64 * 1024


def read_lines(stream: BinaryIO, limits: ImportLimits) -> Iterator[tuple[int, str | RecordError]]:
    """(line number, text) of every non-blank line of a JSONL file, gunzipped when it is gzip.

    Reads the file a line at a time, so memory stays within one line however large the file
    unpacks: more than `limits.max_decompressed_bytes` or `limits.max_lines` raises
    ImportTooLarge; a line longer than `limits.max_line_bytes` comes back as a RecordError.
    """
    magic = stream.read(2)
    stream.seek(0)
    source = gzip.GzipFile(fileobj=stream, mode="rb") if magic == _GZIP_MAGIC else stream
    total = 0

    def read(size: int) -> bytes:
        nonlocal total
        try:
            chunk = source.readline(size)
        except (OSError, EOFError, zlib.error) as error:
            raise RecordError(f"file: not a readable gzip file ({error}).") from error
        total += len(chunk)
        if total > limits.max_decompressed_bytes:
            raise ImportTooLarge(
                f"file: unpacks to more than {limits.max_decompressed_bytes} bytes (IMPORT_MAX_DECOMPRESSED_BYTES)."
            )
        return chunk

    number = 0
    while line := read(limits.max_line_bytes + 1):
        number += 1
        if number > limits.max_lines:
            raise ImportTooLarge(f"file: more than {limits.max_lines} lines (IMPORT_MAX_LINES).")
        if len(line) > limits.max_line_bytes and not line.endswith(b"\n"):
            while (rest := read(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield number, RecordError(f"the line is longer than {limits.max_line_bytes} bytes (IMPORT_MAX_LINE_BYTES).")
            continue
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RecordError(
                f"file: not UTF-8 text ({error.reason} at byte {error.start} of line {number})."
            ) from error
        if text.strip():
            yield number, text


def parse_line(line: str):
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise RecordError(f"not valid JSON: {error.msg} (column {error.colno}).") from error
    except RecursionError as error:
        raise RecordError("the JSON is nested too deeply to read.") from error
    return value


def _text(value, name: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, not {type(value).__name__}.")
    if not allow_empty and not value.strip():
        raise RecordError(f"{name} is empty.")
    if len(value) > MAX_TEXT_CHARS:
        raise RecordError(f"{name} is longer than {MAX_TEXT_CHARS} characters.")
    return value


def _messages(value, name: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise RecordError(f"{name} must be a non-empty list of {{role, content}} messages.")
    cleaned = []
    for index, message in enumerate(value):
        if not isinstance(message, dict) or set(message) - {"role", "content"} or "role" not in message:
            raise RecordError(f"{name}[{index}] must be an object with role and content.")
        if message["role"] not in ROLES:
            raise RecordError(f"{name}[{index}].role must be one of {', '.join(ROLES)}.")
        cleaned.append({"role": message["role"], "content": _text(message.get("content"), f"{name}[{index}].content")})
    return cleaned


def _prompt(value, name: str = "prompt") -> PromptRecord:
    if isinstance(value, str):
        return PromptRecord(text=_text(value, name))
    if isinstance(value, list):
        return PromptRecord(messages=_messages(value, name))
    raise RecordError(f"{name} must be text or a list of messages.")


def _object(value) -> dict:
    if not isinstance(value, dict):
        raise RecordError(f"each line must be a JSON object, not {type(value).__name__}.")
    return value


def _common(record: dict, prompt: PromptRecord) -> PromptRecord:
    split = record.get("split", "train")
    if split not in SPLITS:
        raise RecordError(f"split must be one of {', '.join(SPLITS)}.")
    prompt.split = split
    return prompt


_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def hh_dialogue(text: str) -> list[dict]:
    """Splits an HH transcript ("\\n\\nHuman: ...\\n\\nAssistant: ...") into messages."""
    if not text.startswith("\n\n"):
        text = "\n\n" + text.lstrip("\n")
    parts = _HH_TURN.split(text)
    if parts[0].strip():
        raise RecordError("dialogue must start with a 'Human:' or 'Assistant:' turn.")
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return messages


def parse_hh(record) -> TaskRecord:
    """The prompt is the dialogue up to the last "Assistant:" the two transcripts share; the
    responses are what follows it in each (so a response that itself runs on into further
    "Human:" turns, which real HH data contains, stays one response)."""
    record = _object(record)
    chosen = _text(record.get("chosen"), "chosen")
    rejected = _text(record.get("rejected"), "rejected")
    if chosen == rejected:
        raise RecordError("chosen and rejected are the same transcript.")
    marker = "\n\nAssistant:"
    shared = os.path.commonprefix([chosen, rejected])
    cut = shared.rfind(marker)
    if cut < 0:
        raise RecordError("chosen and rejected must share a conversation ending in an 'Assistant:' turn.")
    context = hh_dialogue(chosen[:cut])
    if not context:
        raise RecordError("the shared conversation before the final 'Assistant:' turn is empty.")
    answers = [chosen[cut + len(marker):].strip(), rejected[cut + len(marker):].strip()]
    if answers[0] == answers[1]:
        raise RecordError("chosen and rejected give the same final answer.")
    prompt = _common(record, PromptRecord(messages=context))
    return TaskRecord(prompt=prompt, responses=answers, source_ranking=[[0], [1]])


def _trl_answer(value, name: str) -> str:
    if isinstance(value, list):
        messages = _messages(value, name)
        if messages[-1]["role"] != "assistant":
            raise RecordError(f"{name} must end with an assistant message.")
        return messages[-1]["content"]
    return _text(value, name)


def parse_trl(record) -> TaskRecord:
    record = _object(record)
    if "prompt" not in record:
        raise RecordError("prompt is missing (an implicit-prompt TRL file needs format hh).")
    prompt = _common(record, _prompt(record["prompt"]))
    answers = [_trl_answer(record.get("chosen"), "chosen"), _trl_answer(record.get("rejected"), "rejected")]
    if answers[0] == answers[1]:
        raise RecordError("chosen and rejected are the same text.")
    return TaskRecord(prompt=prompt, responses=answers, source_ranking=[[0], [1]])


def parse_prompt(record) -> PromptRecord:
    record = _object(record)
    if "messages" in record:
        prompt = PromptRecord(messages=_messages(record["messages"], "messages"))
    elif "prompt" in record:
        prompt = _prompt(record["prompt"])
    else:
        raise RecordError("needs prompt (text or messages) or messages.")
    metadata = record.get("metadata", {})
    if not isinstance(metadata, dict):
        raise RecordError("metadata must be an object.")
    prompt.metadata = metadata
    return _common(record, prompt)


def _ranking_of_positions(value, n: int, name: str) -> list[list[int]]:
    if not isinstance(value, list) or not value or not all(isinstance(t, list) and t for t in value):
        raise RecordError(f"{name} must be a list of non-empty tiers of response positions.")
    flat = [p for tier in value for p in tier]
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in flat):
        raise RecordError(f"{name} holds response positions (integers from 0).")
    if sorted(flat) != list(range(n)):
        raise RecordError(f"{name} must rank every response position 0..{n - 1} exactly once.")
    return value


def parse_task(record) -> TaskRecord:
    record = _object(record)
    prompt = parse_prompt(record)
    responses = record.get("responses", [])
    if not isinstance(responses, list):
        raise RecordError("responses must be a list.")
    texts = [
        _text(item.get("text") if isinstance(item, dict) else item, f"responses[{index}]")
        for index, item in enumerate(responses)
    ]
    if len(set(texts)) != len(texts):
        raise RecordError("responses must differ from each other.")
    purpose = record.get("purpose", "training")
    if purpose not in PURPOSES:
        raise RecordError(f"purpose must be one of {', '.join(PURPOSES)}.")
    priority = record.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or abs(priority) > 1_000_000:
        raise RecordError("priority must be an integer between -1000000 and 1000000.")
    gold = record.get("gold_ranking")
    if gold is not None:
        gold = _ranking_of_positions(gold, len(texts), "gold_ranking")
    if purpose == "gold" and gold is None:
        raise RecordError("a gold task needs gold_ranking (tiers of response positions).")
    metadata = record.get("metadata", {})
    return TaskRecord(
        prompt=prompt, responses=texts, purpose=purpose, priority=priority,
        gold_ranking=gold, metadata=metadata if isinstance(metadata, dict) else {},
    )


PARSERS = {"hh": parse_hh, "trl": parse_trl, "prompts": parse_prompt, "tasks": parse_task}


def parse_records(fmt: str, lines: Iterable[tuple[int, object]]) -> Iterator[tuple[int, object]]:
    """Yields (line, PromptRecord | TaskRecord | RecordError) for each decoded line value."""
    parser = PARSERS[fmt]
    for number, value in lines:
        problem = unstorable_json(value, "")
        if problem:
            yield number, RecordError(problem)
            continue
        try:
            yield number, parser(value)
        except RecordError as error:
            yield number, error

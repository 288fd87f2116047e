"""Reading the JSONL files the commands consume, in TRL's dataset formats.

A prompt, a completion or a response is either plain text or a conversation: a list of
`{"role": ..., "content": ...}` messages. Every malformed line raises `TrainingUserError`
with a one-line message that names `file:line`, so a user can open the file and fix it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from training.errors import TrainingUserError
from training.jsonl import iter_jsonl

Messages = list[dict[str, str]]
Text = Union[str, Messages]

HH_ASSISTANT_MARKER = "\n\nAssistant:"
ROLE_LABELS = {"user": "Human", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class PromptRow:
    """One prompt to generate from; `id` is passed through untouched."""

    prompt: Text
    id: Any = None


@dataclass(frozen=True)
class PreferencePair:
    """One judged comparison: `chosen` beat `rejected` as a reply to `prompt`.

    `margin` (>= 0) asks the Bradley-Terry loss for a reward gap of at least that size.
    """

    prompt: Text
    chosen: Text
    rejected: Text
    margin: float | None = None


@dataclass(frozen=True)
class Demonstration:
    """One supervised example: a prompt and its completion, or a whole conversation."""

    prompt: Text | None = None
    completion: Text | None = None
    messages: Messages | None = None


@dataclass(frozen=True)
class ResponseRow:
    """A response to score; `extra` keeps every other key of the input line."""

    prompt: Text
    response: Text
    extra: dict = field(default_factory=dict)


def _where(path, number) -> str:
    return f"{path}:{number}"


def _text(row: dict, key: str, where: str, *, required: bool = True) -> Text | None:
    """Validate `row[key]` as plain text or a message list."""
    if key not in row or row[key] is None:
        if required:
            raise TrainingUserError(f"{where}: missing field {key!r}")
        return None
    value = row[key]
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return _messages(value, f"{where}: field {key!r}")
    raise TrainingUserError(f"{where}: field {key!r} must be text or a list of messages, got {type(value).__name__}")


def _messages(value: list, where: str) -> Messages:
    messages = []
    for index, message in enumerate(value):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise TrainingUserError(f"{where}: message {index} needs string 'role' and 'content'")
        messages.append({"role": message["role"], "content": message["content"]})
    if not messages:
        raise TrainingUserError(f"{where}: empty message list")
    return messages


def _non_empty(rows: list, path) -> list:
    if not rows:
        raise TrainingUserError(f"{path}: no rows")
    return rows


def read_prompts(path: str | Path) -> list[PromptRow]:
    """Read `{"prompt": text | messages, "id"?: any}` lines."""
    rows = []
    for number, row in iter_jsonl(path):
        rows.append(PromptRow(prompt=_text(row, "prompt", _where(path, number)), id=row.get("id")))
    return _non_empty(rows, path)


def split_hh_dialogue(dialogue: str) -> tuple[str, str]:
    """Split an Anthropic-HH dialogue into (prompt, final answer) at the last "\\n\\nAssistant:".

    The prompt keeps the marker (so a policy sees where to answer); the answer loses its leading space.
    """
    cut = dialogue.rfind(HH_ASSISTANT_MARKER)
    if cut < 0:
        raise ValueError('no "\\n\\nAssistant:" turn in the dialogue')
    cut += len(HH_ASSISTANT_MARKER)
    return dialogue[:cut], dialogue[cut:].lstrip(" ")


def read_pairs(path: str | Path) -> list[PreferencePair]:
    """Read `{"prompt", "chosen", "rejected", "margin"?}` lines.

    Lines without a prompt whose chosen and rejected texts are whole HH dialogues are split at
    the last "\\n\\nAssistant:" (the HH release's own format).
    """
    pairs = []
    for number, row in iter_jsonl(path):
        where = _where(path, number)
        chosen = _text(row, "chosen", where)
        rejected = _text(row, "rejected", where)
        prompt = _text(row, "prompt", where, required=False)
        if prompt is None:
            if isinstance(chosen, str) and isinstance(rejected, str) and HH_ASSISTANT_MARKER in chosen and HH_ASSISTANT_MARKER in rejected:
                prompt, chosen = split_hh_dialogue(chosen)
                _, rejected = split_hh_dialogue(rejected)
            else:
                prompt = ""
        margin = row.get("margin")
        if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))):
            raise TrainingUserError(f"{where}: field 'margin' must be a number")
        pairs.append(PreferencePair(prompt=prompt, chosen=chosen, rejected=rejected,
                                    margin=None if margin is None else float(margin)))
    return _non_empty(pairs, path)


def read_demonstrations(path: str | Path) -> list[Demonstration]:
    """Read `{"prompt", "completion"}` or `{"messages": [...]}` lines."""
    demos = []
    for number, row in iter_jsonl(path):
        where = _where(path, number)
        if "messages" in row:
            if not isinstance(row["messages"], list):
                raise TrainingUserError(f"{where}: field 'messages' must be a list of messages")
            demos.append(Demonstration(messages=_messages(row["messages"], f"{where}: field 'messages'")))
        else:
            if "prompt" not in row and "completion" not in row:
                raise TrainingUserError(f"{where}: needs 'prompt' and 'completion', or 'messages'")
            demos.append(Demonstration(prompt=_text(row, "prompt", where), completion=_text(row, "completion", where)))
    return _non_empty(demos, path)


def read_responses(path: str | Path) -> list[ResponseRow]:
    """Read `{"prompt", "response", ...}` lines; other keys are kept in `extra` and passed through."""
    rows = []
    for number, row in iter_jsonl(path):
        where = _where(path, number)
        rows.append(ResponseRow(prompt=_text(row, "prompt", where), response=_text(row, "response", where),
                                extra={k: v for k, v in row.items() if k not in ("prompt", "response")}))
    return _non_empty(rows, path)


def messages_as_text(messages: Messages) -> str:
    """Flatten a conversation in the HH style ("\\n\\nHuman: ...\\n\\nAssistant: ...")."""
    return "".join(f"\n\n{ROLE_LABELS.get(m['role'], m['role'].title())}: {m['content']}" for m in messages)


def prompt_text(prompt: Text, tokenizer=None) -> str:
    """Render a prompt as the text a model is conditioned on.

    Conversations use the tokenizer's chat template (with the generation prompt) when it has one,
    else the HH style ending in "\\n\\nAssistant:".
    """
    if isinstance(prompt, str):
        return prompt
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return messages_as_text(prompt) + HH_ASSISTANT_MARKER


def response_text(response: Text) -> str:
    """Render a response (text, or the assistant messages of a conversation) as text."""
    if isinstance(response, str):
        return response
    return "\n".join(m["content"] for m in response)


def conversation_text(prompt: Text, response: Text, tokenizer=None) -> str:
    """The full text a reward model scores: the rendered prompt followed by the response."""
    if isinstance(prompt, list) and tokenizer is not None and getattr(tokenizer, "chat_template", None):
        reply = response if isinstance(response, list) else [{"role": "assistant", "content": response}]
        return tokenizer.apply_chat_template(prompt + reply, tokenize=False)
    rendered_prompt = prompt_text(prompt, tokenizer)
    reply = response_text(response)
    separator = " " if rendered_prompt.endswith(":") and reply and not reply.startswith((" ", "\n")) else ""
    return rendered_prompt + separator + reply


def left_truncate(tokenizer, text: str, max_tokens: int) -> tuple[str, bool]:
    """`text` cut to its last `max_tokens` tokens (the end of a prompt is what a reply follows);
    also whether it was cut."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return text, False
    return tokenizer.decode(ids[len(ids) - max_tokens:], skip_special_tokens=False), True

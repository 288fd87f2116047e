"""Exports as JSON lines, generated lazily so a large project streams instead of filling memory.

- `trl`: one consensus pair per line `{prompt, chosen, rejected, margin}` (TRL RewardTrainer /
  DPOTrainer columns). When any prompt of the project is a conversation, every line is
  conversational (prompt a message list, chosen/rejected one assistant message each), so the
  file has one schema; otherwise all three are plain text.
- `hh`: `{chosen, rejected}` as Anthropic HH transcripts ("\\n\\nHuman: ...\\n\\nAssistant: ...").
- `judgements`: every raw judgement (replaced ones too) with annotator, display order and timing.
"""
import json
from typing import Iterable, Iterator

from annotation.models import Judgement, Project, Prompt, Response
from annotation.selectors.consensus import consensus_pairs

EXPORT_FORMATS = ("trl", "hh", "judgements")
_CHUNK = 500


def _line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _prompt_messages(prompt: Prompt) -> list[dict]:
    return prompt.messages if prompt.messages else [{"role": "user", "content": prompt.text}]


def _hh_transcript(messages: list[dict]) -> str:
    speaker = {"user": "Human", "assistant": "Assistant", "system": "Human"}
    return "".join(f"\n\n{speaker.get(m['role'], 'Human')}: {m['content']}" for m in messages)


def _pairs_with_content(pairs: list) -> Iterator[tuple]:
    for chunk in _chunks(pairs):
        prompts = Prompt.objects.in_bulk({p.prompt_id for p in chunk})
        responses = Response.objects.in_bulk(
            {p.chosen_response_id for p in chunk} | {p.rejected_response_id for p in chunk}
        )
        for pair in chunk:
            yield pair, prompts[pair.prompt_id], responses[pair.chosen_response_id], responses[pair.rejected_response_id]


def export_trl(project: Project) -> Iterator[str]:
    # Computed before streaming starts, so a failure is an error answer, not a truncated file.
    pairs = consensus_pairs(project=project)
    conversational = Prompt.objects.filter(project=project, messages__isnull=False).exists()
    return _trl_lines(pairs, conversational)


def _trl_lines(pairs: list, conversational: bool) -> Iterator[str]:
    for pair, prompt, chosen, rejected in _pairs_with_content(pairs):
        if conversational:
            row = {
                "prompt": _prompt_messages(prompt),
                "chosen": [{"role": "assistant", "content": chosen.text}],
                "rejected": [{"role": "assistant", "content": rejected.text}],
            }
        else:
            row = {"prompt": prompt.text, "chosen": chosen.text, "rejected": rejected.text}
        row["margin"] = float(pair.margin)
        yield _line(row)


def export_hh(project: Project) -> Iterator[str]:
    return _hh_lines(consensus_pairs(project=project))


def _hh_lines(pairs: list) -> Iterator[str]:
    for _pair, prompt, chosen, rejected in _pairs_with_content(pairs):
        context = _prompt_messages(prompt)
        yield _line(
            {
                "chosen": _hh_transcript(context + [{"role": "assistant", "content": chosen.text}]),
                "rejected": _hh_transcript(context + [{"role": "assistant", "content": rejected.text}]),
            }
        )


def export_judgements(project: Project) -> Iterator[str]:
    judgements = (
        Judgement.objects.filter(project=project)
        .select_related("annotator", "assignment", "task")
        .order_by("pk")
    )
    for j in judgements.iterator(chunk_size=_CHUNK):
        yield _line(
            {
                "id": j.pk,
                "task_id": j.task_id,
                "task_purpose": j.task.purpose,
                "assignment_id": j.assignment_id,
                "annotator_id": j.annotator_id,
                "annotator": j.annotator.username,
                "is_ai": j.is_ai,
                "replaces": j.replaces_id,
                "ranking": j.ranking,
                "both_bad": j.both_bad,
                "strength": j.strength,
                "criteria": j.criteria,
                "rationale": j.rationale,
                "flags": j.flags,
                "demonstration_response_id": j.demonstration_id,
                "display_order": j.assignment.display_order,
                "pair_outcome": j.pair_outcome,
                "picked_first_shown": j.picked_first_shown,
                "time_spent_ms": j.time_spent_ms,
                "leased_at": j.assignment.leased_at.isoformat(),
                "created_at": j.created_at.isoformat(),
                "client_id": j.client_id,
            }
        )


EXPORTERS = {"trl": export_trl, "hh": export_hh, "judgements": export_judgements}

"""Creating comparison tasks from content, and marking gold tasks."""
import hashlib
import json
import random

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.errors import DomainError
from annotation.models import ComparisonTask, Project, Prompt, Response, TaskResponse
from annotation.permissions import MANAGE_ROLES, require_role
from annotation.services.rankings import ranking_validate


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_content_hash(*, text: str, messages: list | None) -> str:
    """The identity of a prompt's content; the same text or conversation hashes the same."""
    return _sha256(json.dumps({"text": text or "", "messages": messages}, sort_keys=True, ensure_ascii=False))


def response_content_hash(text: str) -> str:
    return _sha256(text)


def task_content_hash(*, prompt_hash: str, response_hashes: list[str]) -> str:
    """A task's identity: its prompt and the set of its responses (order does not matter)."""
    return _sha256(prompt_hash + "|" + "|".join(sorted(response_hashes)))


def prompt_get_or_create(*, project: Project, text: str = "", messages: list | None = None,
                         split: str = Prompt.Split.TRAIN, metadata: dict | None = None) -> tuple[Prompt, bool]:
    """The project's prompt with this content, created if new. Returns (prompt, created)."""
    content_hash = prompt_content_hash(text=text, messages=messages)
    prompt = Prompt.objects.filter(project=project, content_hash=content_hash).first()
    if prompt is not None:
        return prompt, False
    prompt = Prompt.objects.create(
        project=project, text=text or "", messages=messages, split=split,
        content_hash=content_hash, metadata=metadata or {},
    )
    return prompt, True


def response_get_or_create(*, prompt: Prompt, text: str, source: str = Response.Source.IMPORTED,
                           metadata: dict | None = None) -> Response:
    """The prompt's response with this text and source, created if new."""
    content_hash = response_content_hash(text)
    existing = Response.objects.filter(prompt=prompt, content_hash=content_hash, source=source).first()
    if existing is not None:
        return existing
    return Response.objects.create(
        prompt=prompt, text=text, source=source, content_hash=content_hash, metadata=metadata or {}
    )


@transaction.atomic
def task_create(*, project: Project, prompt: Prompt, responses: list[Response],
                purpose: str = ComparisonTask.Purpose.TRAINING, priority: int = 0,
                gold_ranking: list | None = None, metadata: dict | None = None,
                iteration=None) -> tuple[ComparisonTask, bool]:
    """A task comparing `responses` (canonical order = list order) to `prompt`; (task, created).

    Idempotent on content: the same prompt and set of responses returns the existing task.
    """
    content_hash = task_content_hash(
        prompt_hash=prompt.content_hash, response_hashes=[r.content_hash for r in responses]
    )
    existing = ComparisonTask.objects.filter(project=project, content_hash=content_hash).first()
    if existing is not None:
        return existing, False
    task = ComparisonTask.objects.create(
        project=project, prompt=prompt, purpose=purpose, priority=priority,
        gold_ranking=gold_ranking, random_key=random.random(), content_hash=content_hash,
        metadata=metadata or {}, iteration=iteration,
    )
    TaskResponse.objects.bulk_create(
        [TaskResponse(task=task, response=response, position=i) for i, response in enumerate(responses)]
    )
    return task, True


@transaction.atomic
def task_mark_gold(*, task: ComparisonTask, actor: AbstractBaseUser, ranking) -> ComparisonTask:
    """Makes `task` a gold task with its known ranking (tiers of response ids). Managers only.

    A gold task is served to every annotator once (no overlap limit) and never enters training.
    """
    require_role(user=actor, project=task.project, roles=MANAGE_ROLES, action="mark gold tasks")
    response_ids = list(TaskResponse.objects.filter(task=task).values_list("response_id", flat=True))
    if not response_ids:
        raise DomainError("A demonstration task has no responses to rank; it cannot be gold.", field="ranking")
    task = ComparisonTask.objects.select_for_update().get(pk=task.pk)
    task.gold_ranking = ranking_validate(ranking=ranking, response_ids=response_ids)
    task.purpose = ComparisonTask.Purpose.GOLD
    task.is_complete = False
    task.save(update_fields=["gold_ranking", "purpose", "is_complete"])
    return task

"""Reads about background response generations: what the manager sees of their progress."""
from dataclasses import dataclass
from datetime import datetime

from annotation.models import Project, ResponseGeneration


@dataclass(frozen=True)
class GenerationProgress:
    """A generation as the manager reads it: how far it is, and why it stopped if it failed."""

    id: int
    policy: str
    status: str
    prompts_done: int
    prompts_total: int
    samples_per_prompt: int
    tasks_created: int
    error: str
    created_at: datetime
    started_at: datetime | None
    first_tasks_at: datetime | None
    finished_at: datetime | None


def response_generations_of(*, project: Project) -> list[GenerationProgress]:
    """The project's background generations, newest first."""
    rows = ResponseGeneration.objects.filter(project=project).select_related("policy").order_by("-created_at", "-pk")
    return [
        GenerationProgress(
            id=g.pk, policy=g.policy.name, status=g.status, prompts_done=g.prompts_done,
            prompts_total=g.prompts_total, samples_per_prompt=g.samples_per_prompt,
            tasks_created=g.tasks_created, error=g.error, created_at=g.created_at, started_at=g.started_at,
            first_tasks_at=g.first_tasks_at, finished_at=g.finished_at,
        )
        for g in rows
    ]

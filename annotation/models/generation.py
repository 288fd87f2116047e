from django.db import models

from .project import Project
from .training import PolicyVersion, RunStatus


class ResponseGeneration(models.Model):
    """Sampling a policy's responses to a fixed list of a project's prompts in the background, a
    chunk of prompts at a time; each chunk's comparison tasks are created as soon as it is sampled,
    so annotators can start while the rest is generated. `prompts_done` counts the prompts of
    `prompt_ids` (in order) already handled, so progress is exact and a retry resumes there."""

    Status = RunStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="response_generations")
    policy = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    prompt_ids = models.JSONField(default=list, help_text="Prompts to answer, in the order they are sampled.")
    samples_per_prompt = models.PositiveSmallIntegerField(default=2)
    chunk_size = models.PositiveSmallIntegerField(default=8)
    options = models.JSONField(default=dict, blank=True, help_text="Options of `python -m training generate`.")
    prompts_done = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # The chunk being sampled: which Celery task holds it, and when it last said it is alive.
    claimed_by = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    first_tasks_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Queueing again finds this row instead of sampling the same prompts twice.
            models.UniqueConstraint(fields=["project", "policy"], name="one_generation_per_policy"),
        ]

    def __str__(self) -> str:
        return f"Responses of {self.policy} in {self.project} ({self.status})"

    @property
    def prompts_total(self) -> int:
        return len(self.prompt_ids)

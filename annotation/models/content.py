from django.db import models

from .project import Project


class Prompt(models.Model):
    """A text prompt or a conversation (`messages`: a list of {role, content})."""

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        EVAL = "eval", "Held-out evaluation"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    text = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True)
    split = models.CharField(max_length=10, choices=Split.choices, default=Split.TRAIN)
    # sha256 of the canonical content: re-importing the same prompt finds this row.
    content_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="unique_prompt_content")
        ]

    def __str__(self) -> str:
        return (self.text or str(self.messages))[:60]


class Response(models.Model):
    """A candidate response to a prompt: imported, written by a person, or sampled from a policy."""

    class Source(models.TextChoices):
        IMPORTED = "imported", "Imported"
        HUMAN = "human", "Human demonstration"
        MODEL = "model", "Model version"

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    text = models.TextField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.IMPORTED)
    policy_version = models.ForeignKey(
        "annotation.PolicyVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="responses",
    )
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["prompt", "content_hash"])]

    def __str__(self) -> str:
        return self.text[:60]

from django.conf import settings
from django.db import models
from django.db.models import Q

from .project import Project


class PolicyVersion(models.Model):
    """A policy checkpoint: the reference (base) policy or the output of an iteration."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="policy_versions")
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=1000, help_text="Hugging Face model directory.")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    iteration = models.ForeignKey(
        "annotation.Iteration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="policy_versions",
    )
    is_reference = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_policy_name")
        ]

    def __str__(self) -> str:
        return self.name


class RewardModelVersion(models.Model):
    """A trained reward model and the judgements it learned from."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reward_models")
    iteration = models.ForeignKey(
        "annotation.Iteration", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    path = models.CharField(max_length=1000)
    n_pairs = models.PositiveIntegerField(default=0)
    # The newest judgement id included: judgements above it are "new since the last reward model".
    judgement_watermark = models.BigIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Reward model {self.pk} of {self.project}"


class RunStatus(models.TextChoices):
    """The life of an iteration and of each of its steps (the same states, so they read alike)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Iteration(models.Model):
    """One turn of the RLHF loop: a chain of TrainingJob steps."""

    Status = RunStatus

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="iterations")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    algorithm = models.CharField(max_length=10, choices=Project.Algorithm.choices)
    hyperparameters = models.JSONField(default=dict, blank=True)
    trigger = models.CharField(max_length=20, default="manual")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_before = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    policy_after = models.ForeignKey(
        PolicyVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reward_model = models.ForeignKey(
        RewardModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset_hash = models.CharField(max_length=64, blank=True)
    overoptimization_flag = models.BooleanField(default=False)
    overoptimization_reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="unique_iteration_number"),
            # Single flight: at most one unfinished iteration per project.
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status__in=["queued", "running"]),
                name="one_live_iteration_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project} iteration {self.number} ({self.status})"


class TrainingJob(models.Model):
    """One step of an iteration, with its progress, heartbeat, logs and metrics."""

    Status = RunStatus

    iteration = models.ForeignKey(Iteration, on_delete=models.CASCADE, related_name="jobs")
    step = models.CharField(max_length=40)
    order = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    log_tail = models.TextField(blank=True)
    metrics_history = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    artifact_path = models.CharField(max_length=1000, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=100, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True)
    subprocess_pid = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["iteration", "order"]
        constraints = [
            models.UniqueConstraint(fields=["iteration", "step"], name="unique_iteration_step")
        ]

    def __str__(self) -> str:
        return f"{self.iteration} / {self.step} ({self.status})"

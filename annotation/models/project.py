from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Project(models.Model):
    """A stream of comparison tasks with its guidelines, quality-control and training settings."""

    class TaskType(models.TextChoices):
        PAIRWISE = "pairwise", "Pairwise (A/B)"
        RANKING = "ranking", "Ranking of K responses"
        DEMONSTRATION = "demonstration", "Demonstration (write the ideal answer)"

    class Consensus(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        RELIABILITY = "reliability", "Weighted by annotator reliability"

    class TaskOrder(models.TextChoices):
        RANDOM = "random", "Random within priority"
        UNCERTAINTY = "uncertainty", "Reward-model uncertainty first (active selection)"

    class Algorithm(models.TextChoices):
        PPO = "ppo", "PPO"
        DPO = "dpo", "DPO"
        RLOO = "rloo", "RLOO"

    name = models.CharField(max_length=200, unique=True)
    guidelines = models.TextField(blank=True, help_text="Markdown shown to annotators.")
    task_type = models.CharField(max_length=20, choices=TaskType.choices, default=TaskType.PAIRWISE)
    responses_per_task = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(2), MaxValueValidator(9)]
    )
    overlap = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Judgements required per task.",
    )
    criteria = models.JSONField(
        default=list, blank=True, help_text='Criterion names, e.g. ["helpfulness", "harmlessness"].'
    )
    rationale_required = models.BooleanField(default=False)
    lease_seconds = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(10), MaxValueValidator(86400)]
    )

    # Quality control
    gold_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of an annotator's stream drawn from gold tasks.",
    )
    gold_min_items = models.PositiveIntegerField(
        default=5, help_text="Gold items judged before the pause rule applies."
    )
    gold_pause_threshold = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pause an annotator whose gold accuracy falls below this (0 disables).",
    )
    consensus_method = models.CharField(
        max_length=20, choices=Consensus.choices, default=Consensus.MAJORITY
    )
    task_order = models.CharField(max_length=20, choices=TaskOrder.choices, default=TaskOrder.RANDOM)

    # Training loop
    retrain_threshold = models.PositiveIntegerField(
        default=0, help_text="New usable judgements that start an iteration (0: never automatically)."
    )
    algorithm = models.CharField(max_length=10, choices=Algorithm.choices, default=Algorithm.PPO)
    hyperparameters = models.JSONField(default=dict, blank=True)
    base_policy_path = models.CharField(max_length=500, blank=True)
    reward_base_model = models.CharField(max_length=500, blank=True)
    rlaif_enabled = models.BooleanField(default=False)
    rlaif_weight = models.FloatField(default=0.5, validators=[MinValueValidator(0.0)])
    training_processes = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Processes (one per GPU) a training step runs under accelerate launch; "
        "empty: the deployment's TRAINING_NUM_PROCESSES.",
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one project. Superusers act as every role everywhere."""

    class Role(models.TextChoices):
        ANNOTATOR = "annotator", "Annotator"
        MANAGER = "manager", "Manager"
        ENGINEER = "engineer", "ML engineer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    is_ai = models.BooleanField(default=False, help_text="An AI pseudo-annotator (RLAIF).")
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=500, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"

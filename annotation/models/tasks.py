from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .content import Prompt, Response
from .project import Project


class ComparisonTask(models.Model):
    """A prompt and 2..K responses to be compared (none for a demonstration task)."""

    class Purpose(models.TextChoices):
        TRAINING = "training", "Training"
        EVALUATION = "evaluation", "Evaluation"
        GOLD = "gold", "Gold (known answer)"

    # Indexed by unique_task_content and the queue's indexes, which lead with it: a task's counters
    # change on every judgement, and each index costs that update an entry.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="tasks")
    responses = models.ManyToManyField(Response, through="TaskResponse", related_name="tasks")
    purpose = models.CharField(max_length=12, choices=Purpose.choices, default=Purpose.TRAINING)
    priority = models.IntegerField(default=0, help_text="Higher first, after tasks already started.")
    # The known answer of a gold task, as ordered tiers of response ids.
    gold_ranking = models.JSONField(null=True, blank=True)
    # Counters kept by the services in the same transaction as the judgement they count.
    judgement_count = models.PositiveIntegerField(default=0)
    is_complete = models.BooleanField(default=False)
    # A stable random order within equal priority; reward-model uncertainty for active selection.
    random_key = models.FloatField(default=0.0)
    uncertainty = models.FloatField(null=True, blank=True)
    iteration = models.ForeignKey(
        "annotation.Iteration", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    content_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="unique_task_content")
        ]
        indexes = [
            models.Index(
                fields=["project", "is_complete", "purpose", "-judgement_count", "-priority"],
                name="task_queue_idx",
            ),
            # The hot path walks this in order and stops at the first task with room, instead of
            # sorting every open task of the project (70 ms at 3,000 tasks without it). The
            # uncertainty order has no such index: SQLite cannot index DESC NULLS LAST.
            models.Index(
                "project", F("judgement_count").desc(), F("priority").desc(), "random_key", "id",
                condition=Q(is_complete=False, purpose__in=["training", "evaluation"]),
                name="task_open_random_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.purpose})"


class TaskResponse(models.Model):
    """A response's place in a task (its canonical position; display order is per assignment)."""

    task = models.ForeignKey(ComparisonTask, on_delete=models.CASCADE, related_name="task_responses")
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["task", "response"], name="unique_task_response"),
            models.UniqueConstraint(fields=["task", "position"], name="unique_task_position"),
        ]


class Assignment(models.Model):
    """A lease of one task to one annotator, with the order the responses were shown in."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"
        SKIPPED = "skipped", "Skipped"

    # No single-column indexes on project and task: assignment_holder_idx and unique_task_annotator
    # lead with them. Each index costs every lease and every submit an entry (the submit's change of
    # state cannot be a HOT update), and a redundant one can lure the planner (see below).
    # The project is the task's, copied for the queries that filter by it. No database constraint:
    # the task's holds it, and a check of this one would lock the project's row FOR KEY SHARE on
    # every lease of every annotator at once (a shared row lock: a MultiXact). Django still
    # cascades a project's deletion here.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments", db_index=False,
                                db_constraint=False)
    task = models.ForeignKey(ComparisonTask, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Response ids in the order shown (left to right), randomized per assignment.
    display_order = models.JSONField(default=list)
    skip_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            # An annotator never gets the same task twice.
            models.UniqueConstraint(fields=["task", "annotator"], name="unique_task_annotator")
        ]
        indexes = [
            # Every `next` looks up the annotator's live lease here. With statistics from an empty
            # project the planner once took the project's own index instead and read every
            # assignment of the project (4.8 ms, and 25 ms at 80,000); that index is gone.
            models.Index(fields=["project", "annotator", "state"], name="assignment_holder_idx"),
            # A task's live leases (the room check, stale leases). Only live leases are in it, so a
            # submit, which ends one, adds no entry to it.
            models.Index(fields=["task", "expires_at"], condition=Q(state="active"), name="assignment_task_live_idx"),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk} of task {self.task_id} to {self.annotator_id} ({self.state})"


class Judgement(models.Model):
    """One annotator's verdict on one assignment, stored as submitted and never overwritten.

    An undo records a new judgement that `replaces` the earlier one; readers use the judgements
    that nothing replaces.
    """

    class Flag(models.TextChoices):
        UNSAFE = "unsafe", "Unsafe"
        FACTUALLY_WRONG = "factually_wrong", "Factually wrong"
        PII = "pii", "Contains personal data"
        OTHER = "other", "Other"

    class Strength(models.IntegerChoices):
        NEGLIGIBLE = 1, "Negligibly better / unsure"
        SLIGHT = 2, "Slightly better"
        BETTER = 3, "Better"
        SIGNIFICANT = 4, "Significantly better"

    class PairOutcome(models.IntegerChoices):
        # Coded by response identity (lower id vs higher id), never by screen side.
        LOWER_ID_WINS = 0, "Lower response id preferred"
        HIGHER_ID_WINS = 1, "Higher response id preferred"
        TIE = 2, "Tie"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="judgements")
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    # Indexed by judgement_project_time_idx / judgement_annotator_idx and judgement_task_idx. The
    # project is the assignment's (see Assignment.project: no database constraint, for the same reason).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="judgements", db_index=False,
                                db_constraint=False)
    task = models.ForeignKey(ComparisonTask, on_delete=models.CASCADE, related_name="judgements", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="judgements"
    )
    ranking = models.JSONField(default=list, help_text="Ordered tiers of response ids, best first.")
    both_bad = models.BooleanField(default=False)
    strength = models.PositiveSmallIntegerField(choices=Strength.choices, null=True, blank=True)
    criteria = models.JSONField(default=dict, blank=True, help_text="{criterion: ranking}")
    rationale = models.TextField(blank=True)
    flags = models.JSONField(default=list, blank=True)
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    client_id = models.CharField(max_length=100, help_text="Idempotency key (unique_judgement_client_id).")
    # Indexed only where set (judgement_demonstration_idx): most judgements have none.
    demonstration = models.ForeignKey(
        Response, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    is_ai = models.BooleanField(default=False)
    # Derived at submit time so analytics aggregate in SQL without parsing JSON.
    pair_outcome = models.PositiveSmallIntegerField(choices=PairOutcome.choices, null=True, blank=True)
    picked_first_shown = models.BooleanField(null=True, blank=True)
    # Queries by time are per project (judgement_project_time_idx) or per annotator (their index).
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(replaces__isnull=True),
                name="one_original_judgement_per_assignment",
            ),
            # A constraint rather than unique=True, which on PostgreSQL also builds a
            # varchar_pattern_ops index for LIKE that no query uses and every submit would fill.
            models.UniqueConstraint(fields=["client_id"], name="unique_judgement_client_id"),
        ]
        indexes = [
            models.Index(fields=["project", "created_at"], name="judgement_project_time_idx"),
            models.Index(fields=["project", "annotator"], name="judgement_annotator_idx"),
            models.Index(fields=["task"], name="judgement_task_idx"),
            models.Index(fields=["demonstration"], condition=Q(demonstration__isnull=False),
                         name="judgement_demonstration_idx"),
        ]

    def __str__(self) -> str:
        return f"Judgement {self.pk} on task {self.task_id} by {self.annotator_id}"

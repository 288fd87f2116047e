"""Handing out work: leasing tasks to annotators, skipping, and expiring leases.

The queue is the task table itself. On PostgreSQL a candidate is claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent annotators pass over each other's candidates
instead of queueing behind them; on SQLite (which `make run` uses) the same code runs in a plain
transaction, which is correct there because SQLite serializes writers.
"""
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask, Membership, Project, TaskResponse

Purpose = ComparisonTask.Purpose


def _lock_annotator(*, project: Project, annotator: AbstractBaseUser) -> Membership | None:
    """Locks the annotator's membership row (or user row for a non-member superuser).

    Serializes one annotator's concurrent requests, so a double click cannot lease two tasks.
    Refuses non-members (404) and paused annotators (403, with the reason).
    """
    membership = Membership.objects.select_for_update().filter(project=project, user=annotator).first()
    if membership is None:
        if not annotator.is_superuser:
            raise DomainError(f"Project {project.pk} not found.", code="not_found", http_status=404)
        get_user_model().objects.select_for_update().filter(pk=annotator.pk).first()
        return None
    if membership.paused:
        reason = membership.paused_reason or "A manager paused your work in this project."
        raise DomainError(f"You are paused in this project: {reason}", code="paused", http_status=403)
    return membership


def _live_leases(task_ref, now):
    return (
        Assignment.objects.filter(task=task_ref, state=Assignment.State.ACTIVE, expires_at__gt=now)
        .order_by()
        .values("task")
        .annotate(n=Count("id"))
        .values("n")
    )


def _candidates(*, project: Project, annotator: AbstractBaseUser, gold: bool, now, excluded: list[int]):
    """Tasks the annotator may take, best first: started tasks, then priority, then random/uncertainty."""
    mine = Assignment.objects.filter(task=OuterRef("pk"), annotator=annotator)
    tasks = (
        ComparisonTask.objects.select_related("prompt")
        .filter(project=project, is_complete=False)
        .exclude(Exists(mine))
    )
    if excluded:
        tasks = tasks.exclude(pk__in=excluded)
    if gold:
        # Gold tasks have no overlap limit: every annotator judges each one once.
        tasks = tasks.filter(purpose=Purpose.GOLD).order_by("-priority", "random_key")
    else:
        live = Coalesce(Subquery(_live_leases(OuterRef("pk"), now), output_field=IntegerField()), Value(0))
        tasks = (
            tasks.filter(purpose__in=[Purpose.TRAINING, Purpose.EVALUATION])
            .alias(live=live)
            .filter(Q(judgement_count__lt=project.overlap - F("live")))
        )
        tiebreak = (
            F("uncertainty").desc(nulls_last=True)
            if project.task_order == Project.TaskOrder.UNCERTAINTY
            else F("random_key").asc()
        )
        tasks = tasks.order_by("-judgement_count", "-priority", tiebreak, "pk")
    return tasks


def _has_room(*, task: ComparisonTask, project: Project, now) -> bool:
    """Re-checks a locked task with a fresh snapshot (READ COMMITTED: a new statement sees every
    lease committed before the lock was granted), expiring stale leases on the way."""
    if task.purpose == Purpose.GOLD:
        return True
    counts = Assignment.objects.filter(task=task, state=Assignment.State.ACTIVE).aggregate(
        active=Count("id"), live=Count("id", filter=Q(expires_at__gt=now))
    )
    if counts["active"] > counts["live"]:
        # Skip rows a submit is holding: waiting on them while we hold the task row could deadlock.
        stale = (
            Assignment.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(task=task, state=Assignment.State.ACTIVE, expires_at__lte=now)
            .values_list("pk", flat=True)
        )
        Assignment.objects.filter(pk__in=list(stale)).update(state=Assignment.State.EXPIRED, finished_at=now)
    return task.judgement_count + counts["live"] < project.overlap


def _claim(*, project: Project, annotator: AbstractBaseUser, gold: bool, now) -> ComparisonTask | None:
    excluded: list[int] = []
    skip_locked = connection.features.has_select_for_update_skip_locked
    while True:
        query = _candidates(project=project, annotator=annotator, gold=gold, now=now, excluded=excluded)
        if skip_locked:
            query = query.select_for_update(skip_locked=True, of=("self",))
        task = query.first()
        if task is None:
            return None
        if _has_room(task=task, project=project, now=now):
            return task
        excluded.append(task.pk)


def _shuffled_responses(task: ComparisonTask) -> list[tuple[int, str]]:
    rows = list(TaskResponse.objects.filter(task=task).values_list("response_id", "response__text"))
    random.shuffle(rows)
    return rows


@transaction.atomic
def assignment_next(*, project: Project, annotator: AbstractBaseUser) -> Assignment | None:
    """Leases the annotator's next task, or returns None when nothing is left for them.

    Rules: a live lease already held is returned again; a task is never leased twice to the same
    annotator (a unique constraint backs this) and never beyond its overlap counting judgements
    plus live leases; started tasks come first (breadth-first), then priority, then a stable
    random key (or reward-model uncertainty when the project orders by it). With probability
    `project.gold_rate` an unseen gold task comes first. The response order shown is shuffled
    per assignment and stored.
    """
    _lock_annotator(project=project, annotator=annotator)
    now = timezone.now()
    held = (
        Assignment.objects.select_related("task__prompt").filter(project=project, annotator=annotator, state=Assignment.State.ACTIVE)
        .order_by("-leased_at")
        .first()
    )
    if held is not None:
        if held.expires_at > now:
            return held
        # Expire lazily: the lapsed task goes back to the pool (not to this annotator again).
        Assignment.objects.filter(
            project=project, annotator=annotator, state=Assignment.State.ACTIVE, expires_at__lte=now
        ).update(state=Assignment.State.EXPIRED, finished_at=now)

    gold_first = project.gold_rate > 0 and random.random() < project.gold_rate
    task = _claim(project=project, annotator=annotator, gold=gold_first, now=now)
    if task is None and project.gold_rate > 0:
        task = _claim(project=project, annotator=annotator, gold=not gold_first, now=now)
    if task is None:
        return None
    shown = _shuffled_responses(task)
    assignment = Assignment.objects.create(
        project=project,
        task=task,
        annotator=annotator,
        leased_at=now,
        expires_at=now + timedelta(seconds=project.lease_seconds),
        display_order=[response_id for response_id, _ in shown],
    )
    # The texts ride along so the API need not read them again (one query less on the hot path).
    assignment.response_texts = dict(shown)
    return assignment


def assignment_get_for_annotator(*, assignment_id: int, annotator: AbstractBaseUser, lock: bool = False) -> Assignment:
    """The assignment if it is the annotator's; 404 if unknown, 403 if someone else's."""
    query = Assignment.objects.select_related("task", "project")
    if lock:
        query = query.select_for_update(of=("self",))
    assignment = query.filter(pk=assignment_id).first()
    if assignment is None:
        raise DomainError(f"Assignment {assignment_id} not found.", code="not_found", http_status=404)
    if assignment.annotator_id != annotator.pk:
        if not Membership.objects.filter(project=assignment.project, user=annotator).exists() and not annotator.is_superuser:
            raise DomainError(f"Assignment {assignment_id} not found.", code="not_found", http_status=404)
        raise DomainError("This assignment belongs to another annotator.", code="forbidden", http_status=403)
    return assignment


@transaction.atomic
def assignment_skip(*, assignment_id: int, annotator: AbstractBaseUser, reason: str) -> Assignment:
    """Gives a task back with a reason; the annotator will not be offered it again."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason is required to skip a task.", field="reason")
    if len(reason) > 500:
        raise DomainError("reason must be at most 500 characters.", field="reason")
    assignment = assignment_get_for_annotator(assignment_id=assignment_id, annotator=annotator, lock=True)
    if assignment.state == Assignment.State.SKIPPED:
        return assignment
    if assignment.state == Assignment.State.SUBMITTED:
        raise DomainError("This task is already judged; it cannot be skipped.", code="conflict", http_status=409)
    assignment.state = Assignment.State.SKIPPED
    assignment.skip_reason = reason
    assignment.finished_at = timezone.now()
    assignment.save(update_fields=["state", "skip_reason", "finished_at"])
    return assignment


@transaction.atomic
def assignments_expire(*, project: Project | None = None) -> int:
    """Marks every lapsed active lease expired (for a periodic task or the admin); returns the count."""
    now = timezone.now()
    stale = Assignment.objects.filter(state=Assignment.State.ACTIVE, expires_at__lte=now)
    if project is not None:
        stale = stale.filter(project=project)
    return stale.update(state=Assignment.State.EXPIRED, finished_at=now)

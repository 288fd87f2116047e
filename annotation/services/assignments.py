"""Handing out work: leasing tasks to annotators, skipping, and expiring leases.

The queue is the task table itself. On PostgreSQL a candidate is claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent annotators pass over each other's candidates
instead of queueing behind them; on SQLite (which `make run` uses) the same code runs in a plain
transaction, which is correct there because SQLite serializes writers.
"""
import json
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask, Membership, Project, Prompt, Response, TaskResponse

Purpose = ComparisonTask.Purpose


# The hot path's reads are plain SQL: building the equivalent ORM querysets cost more CPU per
# request (1.5 ms for the candidate query alone) than everything else in `next` together. The
# statements are portable between PostgreSQL and SQLite; only the row locks are PostgreSQL's.
TASK = ComparisonTask._meta.db_table
PROMPT = Prompt._meta.db_table
ASSIGNMENT = Assignment._meta.db_table
MEMBERSHIP = Membership._meta.db_table
TASK_RESPONSE = TaskResponse._meta.db_table
RESPONSE = Response._meta.db_table
ACTIVE = Assignment.State.ACTIVE.value

_NOT_MINE = f"NOT EXISTS (SELECT 1 FROM {ASSIGNMENT} a WHERE a.task_id = t.id AND a.annotator_id = %s)"
# Judgements plus live leases below the overlap (a lease past expires_at no longer counts).
_HAS_ROOM = (
    f"t.judgement_count + (SELECT COUNT(*) FROM {ASSIGNMENT} l WHERE l.task_id = t.id "
    f"AND l.state = '{ACTIVE}' AND l.expires_at > %s) < %s"
)
# Matches the partial index `task_open_random_idx`, so the scan stops at the first task with room.
_OPEN = "t.project_id = %s AND NOT t.is_complete AND t.purpose IN ('training', 'evaluation')"
_ORDERS = {
    Project.TaskOrder.RANDOM: "t.judgement_count DESC, t.priority DESC, t.random_key ASC, t.id ASC",
    Project.TaskOrder.UNCERTAINTY: "t.judgement_count DESC, t.priority DESC, t.uncertainty DESC NULLS LAST, t.id ASC",
}
_COLUMNS = f"SELECT t.id, t.purpose, t.judgement_count, t.prompt_id, p.text, p.messages FROM {TASK} t JOIN {PROMPT} p ON p.id = t.prompt_id"


def _sql_time(moment):
    """A datetime as this database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _lock_annotator(*, project: Project, annotator: AbstractBaseUser) -> None:
    """Locks the annotator's membership row (or user row for a non-member superuser).

    Serializes one annotator's concurrent requests, so a double click cannot lease two tasks.
    Refuses non-members (404) and paused annotators (403, with the reason).
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT paused, paused_reason FROM {MEMBERSHIP} WHERE project_id = %s AND user_id = %s{lock}",
            [project.pk, annotator.pk],
        )
        row = cursor.fetchone()
    if row is None:
        if not annotator.is_superuser:
            raise DomainError(f"Project {project.pk} not found.", code="not_found", http_status=404)
        get_user_model().objects.select_for_update().filter(pk=annotator.pk).first()
        return
    paused, reason = row
    if paused:
        reason = reason or "A manager paused your work in this project."
        raise DomainError(f"You are paused in this project: {reason}", code="paused", http_status=403)


def _candidate_sql(*, project: Project, gold: bool, n_excluded: int) -> str:
    """The query for the annotator's best candidate task, best first (see `assignment_next`)."""
    if gold:
        # Gold tasks have no overlap limit: every annotator judges each one once.
        where = f"t.project_id = %s AND NOT t.is_complete AND t.purpose = 'gold' AND {_NOT_MINE}"
        order = "t.priority DESC, t.random_key ASC, t.id ASC"
    else:
        where = f"{_OPEN} AND {_NOT_MINE} AND {_HAS_ROOM}"
        order = _ORDERS.get(project.task_order, _ORDERS[Project.TaskOrder.RANDOM])
    if n_excluded:
        where += f" AND t.id NOT IN ({', '.join(['%s'] * n_excluded)})"
    lock = " FOR UPDATE OF t SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    return f"{_COLUMNS} WHERE {where} ORDER BY {order} LIMIT 1{lock}"


def _task_from_row(row) -> ComparisonTask:
    task_id, purpose, judgement_count, prompt_id, text, messages = row
    if isinstance(messages, str):  # the driver may hand JSON back as text
        messages = json.loads(messages)
    task = ComparisonTask(id=task_id, purpose=purpose, judgement_count=judgement_count, prompt_id=prompt_id)
    task.prompt = Prompt(id=prompt_id, text=text, messages=messages)
    return task


def _has_room(*, task: ComparisonTask, project: Project, now) -> bool:
    """Re-checks a locked task with a fresh snapshot (READ COMMITTED: a new statement sees every
    lease committed before the lock was granted), expiring stale leases on the way."""
    if task.purpose == Purpose.GOLD:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), COUNT(CASE WHEN expires_at > %s THEN 1 END) FROM {ASSIGNMENT} "
            f"WHERE task_id = %s AND state = '{ACTIVE}'",
            [_sql_time(now), task.pk],
        )
        active, live = cursor.fetchone()
    if active > live:
        # Skip rows a submit is holding: waiting on them while we hold the task row could deadlock.
        stale = (
            Assignment.objects.select_for_update(skip_locked=connection.features.has_select_for_update_skip_locked)
            .filter(task=task, state=Assignment.State.ACTIVE, expires_at__lte=now)
            .values_list("pk", flat=True)
        )
        Assignment.objects.filter(pk__in=list(stale)).update(state=Assignment.State.EXPIRED, finished_at=now)
    return task.judgement_count + live < project.overlap


def _claim(*, project: Project, annotator: AbstractBaseUser, gold: bool, now) -> ComparisonTask | None:
    excluded: list[int] = []
    while True:
        sql = _candidate_sql(project=project, gold=gold, n_excluded=len(excluded))
        params = [project.pk, annotator.pk] + ([] if gold else [_sql_time(now), project.overlap]) + excluded
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        task = _task_from_row(row)
        if _has_room(task=task, project=project, now=now):
            return task
        excluded.append(task.pk)


def _shuffled_responses(task: ComparisonTask) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tr.response_id, r.text FROM {TASK_RESPONSE} tr JOIN {RESPONSE} r ON r.id = tr.response_id "
            "WHERE tr.task_id = %s",
            [task.pk],
        )
        rows = cursor.fetchall()
    random.shuffle(rows)
    return rows


def _held_lease(*, project: Project, annotator: AbstractBaseUser, now) -> Assignment | None:
    """The annotator's live lease, if any; a lapsed one is marked expired on the way (lazily)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, expires_at > %s FROM {ASSIGNMENT} WHERE project_id = %s AND annotator_id = %s "
            f"AND state = '{ACTIVE}' ORDER BY leased_at DESC LIMIT 1",
            [_sql_time(now), project.pk, annotator.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if row[1]:
        return Assignment.objects.select_related("task__prompt", "project").get(pk=row[0])
    # The lapsed task goes back to the pool (not to this annotator again).
    Assignment.objects.filter(
        project=project, annotator=annotator, state=Assignment.State.ACTIVE, expires_at__lte=now
    ).update(state=Assignment.State.EXPIRED, finished_at=now)
    return None


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
    held = _held_lease(project=project, annotator=annotator, now=now)
    if held is not None:
        return held

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

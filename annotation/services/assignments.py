"""Handing out work: leasing tasks to annotators, skipping, and expiring leases.

The queue is the task table itself. On PostgreSQL a candidate is claimed with
`SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent annotators pass over each other's candidates
instead of queueing behind them; on SQLite (which `make run` uses) the same code runs in a plain
transaction, which is correct there because SQLite serializes writers.
"""
import functools
import json
import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import Assignment, ComparisonTask, Membership, Project, Prompt, Response, TaskResponse
from annotation.selectors.projects import project_get_for_user
from annotation.services.sql_rows import model_from_row, prepared_cursor, select_columns

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
# The queue's orders. `annotation/hot_path/sql/annotate_loop.sql` orders by the same clauses, and
# GOLD_ORDER's (tests/annotation/test_hot_path.py holds them equal).
QUEUE_ORDERS = {
    Project.TaskOrder.RANDOM: "t.judgement_count DESC, t.priority DESC, t.random_key ASC, t.id ASC",
    Project.TaskOrder.UNCERTAINTY: "t.judgement_count DESC, t.priority DESC, t.uncertainty DESC NULLS LAST, t.id ASC",
}
# Gold tasks: no breadth-first (they have no overlap), then priority and the stable random key.
GOLD_ORDER = "t.priority DESC, t.random_key ASC, t.id ASC"
_COLUMNS = f"SELECT t.id, t.purpose, t.judgement_count, t.prompt_id, p.text, p.messages FROM {TASK} t JOIN {PROMPT} p ON p.id = t.prompt_id"


def _sql_time(moment):
    """A datetime as this database stores it (SQLite keeps naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def check_not_paused(paused: bool, reason: str) -> None:
    """403 (code `paused`, with the reason) for an annotator a manager or the gold rule paused."""
    if paused:
        reason = reason or "A manager paused your work in this project."
        raise DomainError(f"You are paused in this project: {reason}", code="paused", http_status=403)


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
    check_not_paused(*row)


@functools.cache
def _member_project_sql(vendor: str) -> str:
    lock = " FOR UPDATE OF m" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT m.paused, m.paused_reason, {select_columns('p', Project)} FROM {MEMBERSHIP} m "
        f"JOIN {Project._meta.db_table} p ON p.id = m.project_id WHERE m.project_id = %s AND m.user_id = %s{lock}"
    )


def _lock_member_project(*, project_id: int, annotator: AbstractBaseUser) -> Project:
    """`project_get_for_user` + `_lock_annotator` in one statement for the common case (a member).

    A non-member (a superuser, or someone who gets a 404) takes the two-step way.
    """
    with prepared_cursor() as cursor:
        cursor.execute(_member_project_sql(connection.vendor), [project_id, annotator.pk])
        row = cursor.fetchone()
    if row is None:
        project = project_get_for_user(user=annotator, project_id=project_id)
        _lock_annotator(project=project, annotator=annotator)
        return project
    check_not_paused(row[0], row[1])
    return model_from_row(Project, row[2:])


# The annotator's lapsed leases go back to the pool (not to this annotator again): marked expired.
_EXPIRE_LAPSED = (
    f"UPDATE {ASSIGNMENT} SET state = 'expired', finished_at = %s "
    f"WHERE project_id = %s AND annotator_id = %s AND state = '{ACTIVE}' AND expires_at <= %s"
)
_HELD = (
    f"SELECT id FROM {ASSIGNMENT} WHERE project_id = %s AND annotator_id = %s AND state = '{ACTIVE}' "
    "AND expires_at > %s ORDER BY leased_at DESC LIMIT 1"
)


@functools.cache
def _held_or_candidate_sql(*, vendor: str, gold: bool, task_order: str, n_excluded: int) -> tuple[str, str]:
    """(statement, lapsed-expiry statement to run first or "" when it is inside the statement)."""
    if gold:
        # Gold tasks have no overlap limit: every annotator judges each one once.
        where = f"t.project_id = %s AND NOT t.is_complete AND t.purpose = 'gold' AND {_NOT_MINE}"
        order = GOLD_ORDER
    else:
        where = f"{_OPEN} AND {_NOT_MINE} AND {_HAS_ROOM}"
        order = QUEUE_ORDERS.get(task_order, QUEUE_ORDERS[Project.TaskOrder.RANDOM])
    if n_excluded:
        where += f" AND t.id NOT IN ({', '.join(['%s'] * n_excluded)})"
    lock = " FOR UPDATE OF t SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    if vendor == "postgresql":
        # Inside the statement on PostgreSQL (one round trip); SQLite has no DML in WITH.
        prefix, first = f"WITH lapsed AS ({_EXPIRE_LAPSED} RETURNING 1), ", ""
    else:
        prefix, first = "WITH ", _EXPIRE_LAPSED
    statement = (
        f"{prefix}held AS ({_HELD}), "
        f"candidate AS ({_COLUMNS} WHERE {where} AND NOT EXISTS (SELECT 1 FROM held) ORDER BY {order} LIMIT 1{lock}) "
        "SELECT (SELECT id FROM held), c.id, c.purpose, c.judgement_count, c.prompt_id, c.text, c.messages, "
        f"r.id, r.text FROM (SELECT 1 AS one) o LEFT JOIN candidate c ON 1 = 1 "
        f"LEFT JOIN {TASK_RESPONSE} tr ON tr.task_id = c.id LEFT JOIN {RESPONSE} r ON r.id = tr.response_id"
    )
    return statement, first


def _held_or_candidate(*, project: Project, annotator: AbstractBaseUser, gold: bool, now, excluded: list[int]):
    """One statement: the annotator's live lease if they hold one, else the best candidate task,
    locked (SKIP LOCKED), with its prompt and responses. Lapsed leases are expired on the way.

    Returns (held_assignment_id, task, [(response_id, text), ...]); task is None when none is left.
    """
    at = _sql_time(now)
    statement, first = _held_or_candidate_sql(
        vendor=connection.vendor, gold=gold, task_order=project.task_order, n_excluded=len(excluded)
    )
    lapsed_params = [at, project.pk, annotator.pk, at]
    where_params = [project.pk, annotator.pk] + ([] if gold else [at, project.overlap]) + excluded
    with prepared_cursor() as cursor:
        if first:
            cursor.execute(first, lapsed_params)
            lapsed_params = []
        cursor.execute(statement, lapsed_params + [project.pk, annotator.pk, at] + where_params)
        rows = cursor.fetchall()
    held_id = rows[0][0]
    if held_id is not None or rows[0][1] is None:
        return held_id, None, []
    task = _task_from_row(rows[0][1:7])
    shown = [(row[7], row[8]) for row in rows if row[7] is not None]
    return None, task, shown


@functools.cache
def _lease_sql(*, vendor: str, gold: bool) -> tuple[str, str]:
    """(statement, stale-expiry statement to run first or "" when it is inside the statement)."""
    stale = (
        f"UPDATE {ASSIGNMENT} SET state = 'expired', finished_at = %s WHERE id IN (SELECT id FROM {ASSIGNMENT} "
        f"WHERE task_id = %s AND state = '{ACTIVE}' AND expires_at <= %s"
        + (" FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else "") + ")"
    )
    if gold:
        room = "1 = 1"
    else:
        room = (
            f"(SELECT judgement_count FROM {TASK} WHERE id = %s) + (SELECT COUNT(*) FROM {ASSIGNMENT} l "
            f"WHERE l.task_id = %s AND l.state = '{ACTIVE}' AND l.expires_at > %s) < %s"
        )
    insert = (
        f"INSERT INTO {ASSIGNMENT} (project_id, task_id, annotator_id, state, leased_at, expires_at, "
        f"display_order, skip_reason) SELECT %s, %s, %s, '{ACTIVE}', %s, %s, %s, '' WHERE {room} RETURNING id"
    )
    if vendor == "postgresql":
        return f"WITH stale AS ({stale} RETURNING 1) {insert}", ""
    return insert, stale


_DISPLAY_ORDER = Assignment._meta.get_field("display_order")


def _lease_if_room(*, project: Project, annotator: AbstractBaseUser, task: ComparisonTask, display_order: list[int],
                   now) -> int | None:
    """Inserts the lease if the locked task still has room; returns its id, or None when it has not.

    The room check runs in this new statement, so it sees every lease committed before our lock
    on the task was granted (READ COMMITTED takes a fresh snapshot per statement); the candidate
    query's snapshot may predate them. Stale leases on the task are expired on the way, skipping
    rows a submit is holding (waiting on them while we hold the task row could deadlock).
    """
    at = _sql_time(now)
    expires = _sql_time(now + timedelta(seconds=project.lease_seconds))
    gold = task.purpose == Purpose.GOLD
    statement, first = _lease_sql(vendor=connection.vendor, gold=gold)
    stale_params = [at, task.pk, at]
    room_params = [] if gold else [task.pk, task.pk, at, project.overlap]
    display = _DISPLAY_ORDER.get_db_prep_save(display_order, connection)
    insert_params = [project.pk, task.pk, annotator.pk, at, expires, display] + room_params
    with prepared_cursor() as cursor:
        if first:
            cursor.execute(first, stale_params)
            stale_params = []
        cursor.execute(statement, stale_params + insert_params)
        row = cursor.fetchone()
    return row[0] if row else None


def _task_from_row(row) -> ComparisonTask:
    task_id, purpose, judgement_count, prompt_id, text, messages = row
    if isinstance(messages, str):  # the driver may hand JSON back as text
        messages = json.loads(messages)
    task = ComparisonTask(id=task_id, purpose=purpose, judgement_count=judgement_count, prompt_id=prompt_id)
    task.prompt = Prompt(id=prompt_id, text=text, messages=messages)
    return task


def _lease_next(*, project: Project, annotator: AbstractBaseUser, now) -> Assignment | None:
    """With the annotator locked: their live lease again, or a new lease on the best task with room."""
    gold_first = project.gold_rate > 0 and random.random() < project.gold_rate
    kinds = [gold_first, not gold_first] if project.gold_rate > 0 else [False]
    for gold in kinds:
        excluded: list[int] = []
        while True:
            held_id, task, shown = _held_or_candidate(
                project=project, annotator=annotator, gold=gold, now=now, excluded=excluded
            )
            if held_id is not None:
                return Assignment.objects.select_related("task__prompt", "project").get(pk=held_id)
            if task is None:
                break
            random.shuffle(shown)
            display_order = [response_id for response_id, _ in shown]
            assignment_id = _lease_if_room(
                project=project, annotator=annotator, task=task, display_order=display_order, now=now
            )
            if assignment_id is None:
                excluded.append(task.pk)
                continue
            assignment = Assignment(
                id=assignment_id, project=project, task=task, annotator=annotator, state=Assignment.State.ACTIVE,
                leased_at=now, expires_at=now + timedelta(seconds=project.lease_seconds), display_order=display_order,
            )
            assignment._state.adding, assignment._state.db = False, connection.alias
            # The texts ride along so the API need not read them again.
            assignment.response_texts = dict(shown)
            return assignment
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
    return _lease_next(project=project, annotator=annotator, now=timezone.now())


@transaction.atomic
def assignment_next_in_project(*, project_id: int, annotator: AbstractBaseUser) -> Assignment | None:
    """`assignment_next` for a project id, as the API receives it: 404 unless the caller may see
    the project (no existence leak), 403 when paused. The project row is read together with the
    lock on the annotator's membership (one statement less on the hot path)."""
    project = _lock_member_project(project_id=project_id, annotator=annotator)
    return _lease_next(project=project, annotator=annotator, now=timezone.now())


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

"""Recording judgements: validated, idempotent on `client_id`, counted in the same transaction."""
import functools
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import (
    Assignment, ComparisonTask, Judgement, Membership, Project, Prompt, Response, TaskResponse,
)
from annotation.selectors.gold import gold_accuracy
from annotation.services.assignments import assignment_get_for_annotator, check_not_paused
from annotation.services.rankings import is_tie, ranking_validate
from annotation.services.sql_rows import column_count, model_from_row, prepared_cursor, select_columns
from annotation.services.tasks import response_get_or_create

MAX_TEXT_CHARS = 100_000
MAX_TIME_SPENT_MS = 24 * 3600 * 1000


def undo_window_seconds() -> int:
    """How long after submitting an annotator may replace a judgement (`JUDGEMENT_UNDO_SECONDS`)."""
    return int(getattr(settings, "JUDGEMENT_UNDO_SECONDS", 30))


def _check_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 100:
        raise DomainError("client_id must be a non-empty string of at most 100 characters.", field="client_id")
    return client_id


def _verdict(*, project: Project, assignment: Assignment, ranking, both_bad, strength, criteria, rationale,
             flags, time_spent_ms, text) -> dict:
    """Validates everything but the lease; returns the fields of the judgement row."""
    demonstration = project.task_type == Project.TaskType.DEMONSTRATION
    # The display order holds exactly the task's responses (saves a query on the hot path).
    response_ids = list(assignment.display_order) or list(
        TaskResponse.objects.filter(task=assignment.task_id).values_list("response_id", flat=True)
    )
    fields: dict = {}
    if demonstration or not response_ids:
        if not isinstance(text, str) or not text.strip():
            raise DomainError("text (the ideal answer) is required for a demonstration task.", field="text")
        if len(text) > MAX_TEXT_CHARS:
            raise DomainError(f"text must be at most {MAX_TEXT_CHARS} characters.", field="text")
        fields["ranking"] = []
    else:
        if text not in (None, ""):
            raise DomainError("text is only for demonstration tasks.", field="text")
        fields["ranking"] = ranking_validate(ranking=ranking, response_ids=response_ids)
    if not isinstance(both_bad, bool):
        raise DomainError("both_bad must be true or false.", field="both_bad")
    fields["both_bad"] = both_bad
    if strength is not None:
        if project.task_type != Project.TaskType.PAIRWISE:
            raise DomainError("strength is only for pairwise projects.", field="strength")
        if not isinstance(strength, int) or isinstance(strength, bool) or not 1 <= strength <= 4:
            raise DomainError("strength must be an integer from 1 to 4.", field="strength")
        if is_tie(fields["ranking"]):
            raise DomainError("strength grades a preference; a tie has none.", field="strength")
    fields["strength"] = strength
    if criteria is None:
        criteria = {}
    if not isinstance(criteria, dict):
        raise DomainError("criteria must be an object {criterion: ranking}.", field="criteria")
    for name, value in criteria.items():
        if name not in project.criteria:
            raise DomainError(f"criteria: {name!r} is not a criterion of this project.", field="criteria")
        criteria[name] = ranking_validate(ranking=value, response_ids=response_ids, field=f"criteria.{name}")
    fields["criteria"] = criteria
    if rationale is None:
        rationale = ""
    if not isinstance(rationale, str) or len(rationale) > MAX_TEXT_CHARS:
        raise DomainError(f"rationale must be text of at most {MAX_TEXT_CHARS} characters.", field="rationale")
    if project.rationale_required and not rationale.strip():
        raise DomainError("rationale is required in this project.", field="rationale")
    fields["rationale"] = rationale
    if flags is None:
        flags = []
    if not isinstance(flags, list) or any(f not in Judgement.Flag.values for f in flags):
        raise DomainError(f"flags must be a list of {', '.join(Judgement.Flag.values)}.", field="flags")
    fields["flags"] = sorted(set(flags))
    if time_spent_ms is not None and (
        not isinstance(time_spent_ms, int) or isinstance(time_spent_ms, bool) or not 0 <= time_spent_ms <= MAX_TIME_SPENT_MS
    ):
        raise DomainError("time_spent_ms must be a whole number of milliseconds (at most a day).", field="time_spent_ms")
    fields["time_spent_ms"] = time_spent_ms
    return fields


def pair_outcome(ranking: list[list[int]]) -> int | None:
    """A pairwise verdict coded by response identity (lower id vs higher id), never by screen side."""
    flat = sorted(r for tier in ranking for r in tier)
    if len(flat) != 2:
        return None
    if is_tie(ranking):
        return Judgement.PairOutcome.TIE
    return Judgement.PairOutcome.LOWER_ID_WINS if ranking[0] == [flat[0]] else Judgement.PairOutcome.HIGHER_ID_WINS


def _derived(*, ranking: list[list[int]], display_order: list[int]) -> dict:
    """pair_outcome and picked_first_shown."""
    if not ranking:
        return {"pair_outcome": None, "picked_first_shown": None}
    picked_first_shown = None
    if len(ranking[0]) == 1 and display_order:
        picked_first_shown = ranking[0][0] == display_order[0]
    return {"pair_outcome": pair_outcome(ranking), "picked_first_shown": picked_first_shown}


def _existing_by_client_id(*, client_id: str, assignment: Assignment, replaces: Judgement | None) -> Judgement | None:
    """The judgement already recorded under `client_id` if it is this very request's; 409 if another's."""
    # Plain SQL: this runs on every submit and nearly always finds nothing.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, assignment_id, replaces_id FROM {Judgement._meta.db_table} WHERE client_id = %s", [client_id]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    if row[1] == assignment.pk and row[2] == (replaces.pk if replaces else None):
        return Judgement.objects.get(pk=row[0])
    raise DomainError(
        "client_id was already used for another judgement; send a new one.",
        code="conflict", http_status=409, field="client_id",
    )


def _apply_gold_pause_rule(*, project: Project, annotator: AbstractBaseUser) -> None:
    if project.gold_pause_threshold <= 0:
        return
    accuracy, n = gold_accuracy(project=project, annotator=annotator)
    if n >= project.gold_min_items and accuracy < project.gold_pause_threshold:
        Membership.objects.filter(project=project, user=annotator, paused=False).update(
            paused=True,
            paused_at=timezone.now(),
            paused_reason=(
                f"Gold accuracy {accuracy:.0%} over {n} gold items is below "
                f"{project.gold_pause_threshold:.0%}; a manager will review your work."
            ),
        )


def _idempotent_under_races(same_request):
    """Runs the write atomically; if a concurrent request with the same client_id won the race
    (unique violation), answers with its judgement when it is this very request, else 409."""

    def decorate(func):
        atomic = transaction.atomic(func)

        @functools.wraps(func)
        def run(**kwargs):
            try:
                return atomic(**kwargs)
            except IntegrityError:
                existing = Judgement.objects.filter(client_id=kwargs.get("client_id")).first()
                if existing is not None and same_request(existing, kwargs):
                    return existing, False
                raise DomainError(
                    "client_id was already used for another judgement; send a new one.",
                    code="conflict", http_status=409, field="client_id",
                ) from None

        return run

    return decorate


_JUDGEMENT_FIELDS = [f for f in Judgement._meta.concrete_fields if not f.primary_key]


@functools.cache
def _lock_for_submit_sql(vendor: str) -> str:
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT {select_columns('a', Assignment)}, t.purpose, {select_columns('p', Project)}, "
        f"m.paused, m.paused_reason, j.id, j.assignment_id, j.replaces_id FROM {Assignment._meta.db_table} a "
        f"JOIN {ComparisonTask._meta.db_table} t ON t.id = a.task_id "
        f"JOIN {Project._meta.db_table} p ON p.id = a.project_id "
        f"LEFT JOIN {Membership._meta.db_table} m ON m.project_id = a.project_id AND m.user_id = a.annotator_id "
        f"LEFT JOIN {Judgement._meta.db_table} j ON j.client_id = %s WHERE a.id = %s{lock}"
    )


def _lock_for_submit(*, assignment_id: int, annotator: AbstractBaseUser, client_id: str):
    """One statement: the assignment, locked, with its task's purpose, its project, whether its
    annotator is paused in it, and whatever judgement already carries `client_id`. 404 for an
    unknown assignment, 403 for someone else's.

    Returns (assignment, (paused, paused_reason), existing_judgement_row or None).
    """
    with prepared_cursor() as cursor:
        cursor.execute(_lock_for_submit_sql(connection.vendor), [client_id, assignment_id])
        row = cursor.fetchone()
    if row is None:
        raise DomainError(f"Assignment {assignment_id} not found.", code="not_found", http_status=404)
    n = column_count(Assignment)
    assignment = model_from_row(Assignment, row[:n])
    if assignment.annotator_id != annotator.pk:
        # The slow path tells 403 (a project member) from 404 (no existence leak).
        assignment_get_for_annotator(assignment_id=assignment_id, annotator=annotator)
    project = model_from_row(Project, row[n + 1:n + 1 + column_count(Project)])
    assignment.project = project
    assignment.task = ComparisonTask(id=assignment.task_id, project=project, purpose=row[n])
    assignment.task._state.adding, assignment.task._state.db = False, connection.alias
    existing = row[-3:] if row[-3] is not None else None
    return assignment, (bool(row[-5]), row[-4] or ""), existing


@functools.cache
def _record_sql(vendor: str) -> tuple[str, ...]:
    """PostgreSQL: (one statement: close, count and insert). Elsewhere: (insert, close, count)."""
    columns = ", ".join(connection.ops.quote_name(f.column) for f in _JUDGEMENT_FIELDS)
    insert = (
        f"INSERT INTO {Judgement._meta.db_table} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(_JUDGEMENT_FIELDS))}) RETURNING id"
    )
    close = f"UPDATE {Assignment._meta.db_table} SET state = %s, finished_at = %s WHERE id = %s"
    # judgement_count on the right is the value before this update; gold tasks never complete.
    count = (
        f"UPDATE {ComparisonTask._meta.db_table} SET judgement_count = judgement_count + 1, "
        "is_complete = (judgement_count + 1 >= %s AND purpose <> 'gold') WHERE id = %s"
    )
    if vendor == "postgresql":
        return (f"WITH closed AS ({close} RETURNING 1), counted AS ({count} RETURNING 1) {insert}",)
    return insert, close, count


def _record(*, assignment: Assignment, annotator: AbstractBaseUser, fields: dict, now) -> Judgement:
    """Inserts the judgement and, in the same round trip on PostgreSQL, closes the assignment and
    counts the judgement on its task (gold tasks never complete)."""
    project, task = assignment.project, assignment.task
    judgement = Judgement(
        assignment_id=assignment.pk, project_id=project.pk, task_id=task.pk, annotator_id=annotator.pk,
        created_at=now, **fields,
    )
    db = connections[DEFAULT_DB_ALIAS]  # one lookup behind the `connection` proxy, not one per field
    values = [f.get_db_prep_save(getattr(judgement, f.attname), db) for f in _JUDGEMENT_FIELDS]
    close_params = [Assignment.State.SUBMITTED.value, db.ops.adapt_datetimefield_value(now), assignment.pk]
    count_params = [project.overlap, task.pk]
    statements = _record_sql(connection.vendor)
    with prepared_cursor() as cursor:
        if len(statements) == 1:
            cursor.execute(statements[0], close_params + count_params + values)
            judgement.pk = cursor.fetchone()[0]
        else:
            insert, close, count = statements
            cursor.execute(insert, values)
            judgement.pk = cursor.fetchone()[0]
            cursor.execute(close, close_params)
            cursor.execute(count, count_params)
    judgement._state.adding, judgement._state.db = False, connection.alias
    return judgement


@_idempotent_under_races(lambda j, kw: j.assignment_id == kw["assignment_id"] and j.replaces_id is None)
def judgement_submit(*, assignment_id: int, annotator: AbstractBaseUser, client_id: str, ranking=None,
                     both_bad: bool = False, strength: int | None = None, criteria: dict | None = None,
                     rationale: str | None = "", flags: list | None = None, time_spent_ms: int | None = None,
                     text: str | None = None, is_ai: bool = False) -> tuple[Judgement, bool]:
    """Records the annotator's judgement on their assignment. Returns (judgement, created).

    Idempotent on `client_id`: a retry returns the first judgement and creates nothing (the API
    answers 200 instead of 201); the same client_id on another assignment is a 409. Refused: an
    unknown assignment (404), someone else's (403), a lapsed or closed lease (409), an invalid
    verdict (400 naming the field), an annotator paused in the project (403, code `paused`, even on a
    lease taken before the pause). The task's counter and completeness change in the same
    transaction; a judgement on a gold task may pause an annotator whose gold accuracy is too low.
    """
    client_id = _check_client_id(client_id)
    assignment, pause, existing = _lock_for_submit(assignment_id=assignment_id, annotator=annotator,
                                                   client_id=client_id)
    now = timezone.now()
    if existing is None and assignment.state != Assignment.State.ACTIVE:
        # The client_id was read before the lock was granted; a retry that waited on the lock
        # for its own first attempt must see that attempt's judgement (a fresh statement does).
        found = _existing_by_client_id(client_id=client_id, assignment=assignment, replaces=None)
        if found is not None:
            return found, False
    elif existing is not None:
        if existing[1] == assignment.pk and existing[2] is None:
            return Judgement.objects.get(pk=existing[0]), False
        raise DomainError(
            "client_id was already used for another judgement; send a new one.",
            code="conflict", http_status=409, field="client_id",
        )
    # A pause holds from the moment a manager (or the gold rule) sets it, leases taken before it
    # included; a retry of a judgement recorded before it still gets that judgement (above).
    check_not_paused(*pause)
    if assignment.state == Assignment.State.SUBMITTED:
        raise DomainError(
            "This assignment is already judged; replace the judgement to change it.",
            code="conflict", http_status=409,
        )
    if assignment.state != Assignment.State.ACTIVE or assignment.expires_at <= now:
        state = "expired" if assignment.state in (Assignment.State.ACTIVE, Assignment.State.EXPIRED) else assignment.state
        raise DomainError(
            f"This assignment is {state} (lease ended {assignment.expires_at:%H:%M:%S} UTC); ask for the next task.",
            code="lease_expired" if state == "expired" else "conflict", http_status=409,
        )
    project, task = assignment.project, assignment.task
    fields = _verdict(project=project, assignment=assignment, ranking=ranking, both_bad=both_bad, strength=strength,
                      criteria=criteria, rationale=rationale, flags=flags, time_spent_ms=time_spent_ms, text=text)
    demonstration = None
    if not fields["ranking"]:
        prompt = Prompt.objects.get(tasks=task.pk)
        demonstration = response_get_or_create(
            prompt=prompt, text=text, source=Response.Source.HUMAN,
            metadata={"annotator_id": annotator.pk, "assignment_id": assignment.pk},
        )
    judgement = _record(
        assignment=assignment, annotator=annotator, now=now,
        fields=dict(client_id=client_id, demonstration=demonstration, is_ai=is_ai, **fields,
                    **_derived(ranking=fields["ranking"], display_order=assignment.display_order)),
    )
    if task.purpose == ComparisonTask.Purpose.GOLD:
        _apply_gold_pause_rule(project=project, annotator=annotator)
    return judgement, True


@_idempotent_under_races(lambda j, kw: j.replaces_id == kw["judgement_id"])
def judgement_replace(*, judgement_id: int, annotator: AbstractBaseUser, client_id: str, ranking=None,
                      both_bad: bool = False, strength: int | None = None, criteria: dict | None = None,
                      rationale: str | None = "", flags: list | None = None, time_spent_ms: int | None = None,
                      text: str | None = None) -> tuple[Judgement, bool]:
    """Undo: records a judgement that `replaces` the annotator's current one; nothing is overwritten.

    Allowed within `JUDGEMENT_UNDO_SECONDS` (default 30) of the original submission, by the same
    annotator, on the newest judgement of the chain. Task counters do not change (still one
    verdict for the assignment). Idempotent on `client_id` like a submit.
    """
    client_id = _check_client_id(client_id)
    original = Judgement.objects.select_related("assignment").filter(pk=judgement_id).first()
    if original is None:
        raise DomainError(f"Judgement {judgement_id} not found.", code="not_found", http_status=404)
    assignment = assignment_get_for_annotator(assignment_id=original.assignment_id, annotator=annotator, lock=True)
    existing = _existing_by_client_id(client_id=client_id, assignment=assignment, replaces=original)
    if existing is not None:
        return existing, False
    if Judgement.objects.filter(replaces=original).exists():
        raise DomainError("This judgement was already replaced; replace the newest one.", code="conflict", http_status=409)
    submitted_at = assignment.finished_at or original.created_at
    if timezone.now() - submitted_at > timedelta(seconds=undo_window_seconds()):
        raise DomainError(
            f"Judgements can be changed for {undo_window_seconds()} s after submitting; this one is final.",
            code="undo_window_closed", http_status=409,
        )
    project, task = assignment.project, assignment.task
    fields = _verdict(project=project, assignment=assignment, ranking=ranking, both_bad=both_bad, strength=strength,
                      criteria=criteria, rationale=rationale, flags=flags, time_spent_ms=time_spent_ms, text=text)
    demonstration = None
    if not fields["ranking"]:
        demonstration = response_get_or_create(
            prompt=task.prompt, text=text, source=Response.Source.HUMAN,
            metadata={"annotator_id": annotator.pk, "assignment_id": assignment.pk},
        )
    replacement = Judgement.objects.create(
        assignment=assignment, replaces=original, project=project, task=task, annotator=annotator,
        client_id=client_id, demonstration=demonstration, is_ai=original.is_ai,
        **fields, **_derived(ranking=fields["ranking"], display_order=assignment.display_order),
    )
    if task.purpose == ComparisonTask.Purpose.GOLD:
        _apply_gold_pause_rule(project=project, annotator=annotator)
    return replacement, True

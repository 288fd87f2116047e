"""The SQL functions' Python side: their statements, their parameters, their rows decoded into answers.

`prefloop_next` and `prefloop_submit` (`annotation/hot_path/sql/annotate_loop.sql`, installed by
migrations) serve the common case of `next` and of a judgement's submit under the same rules as the
Python services, and *defer* everything else before writing anything, so the caller runs the
services, which answer as they always did. Two callers run them: the DRF views through Django's
connection (`annotation.hot_path.drf.HotPathMixin`, with `next_via_sql` and `submit_via_sql`), and
the ASGI front (`annotation.hot_path.front`) through its own pool of asyncpg connections, without
Django's request cycle, sending the calls that wait for a connection together (`MANY_SQL`).

A cycle through the Python services costs 11 round trips; here it is 2, and PostgreSQL runs the
statements on the cached plans of PL/pgSQL. `HOT_PATH_SQL_FUNCTIONS=0` turns this way off; the
annotate tests run against both ways (`tests/annotation/conftest.py`).
"""
import contextlib
import json
import random

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from psycopg.types.json import Jsonb

from annotation.errors import DomainError
from annotation.services.judgements import pair_outcome
from annotation.services.rankings import ranking_response_ids
from annotation.hot_path.payloads import NOTHING_LEFT, judgement_answer, judgement_body, lease_payload
from annotation.hot_path.request_input import is_row_id
from annotation.services.sql_rows import prepared_cursor

NEXT_SQL = "SELECT * FROM prefloop_next(%s, %s, %s)"
SUBMIT_SQL = "SELECT * FROM prefloop_submit(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"

_NEXT_COLUMNS = (
    "defer", "assignment_id", "leased_at", "expires_at", "task_id", "prompt_id", "prompt_text",
    "prompt_messages", "responses", "task_type", "criteria", "rationale_required",
)


def _json(value):
    """A jsonb column's value: Django's connection hands it over as text, a plain psycopg one decoded."""
    return json.loads(value) if isinstance(value, str) else value


def sql_functions_enabled() -> bool:
    """True when the default database is PostgreSQL and `HOT_PATH_SQL_FUNCTIONS` is on."""
    return connection.vendor == "postgresql" and settings.HOT_PATH_SQL_FUNCTIONS


def next_params(*, token: str, project_id: int) -> list | None:
    """Parameters of `prefloop_next`, or None when the services should answer (an id out of range)."""
    if not is_row_id(project_id):
        return None
    # The draw decides whether a gold task comes first (used only when the project has gold_rate).
    return [token, project_id, random.random()]


def next_answer(row, *, project_id: int) -> tuple[dict | None, int] | None:
    """(body, status) of `next` from the function's row; None when the services must answer."""
    values = dict(zip(_NEXT_COLUMNS, row))
    if values["defer"] is not None:
        return None
    if values["assignment_id"] is None:
        return NOTHING_LEFT
    return lease_payload(
        assignment_id=values["assignment_id"], leased_at=values["leased_at"], expires_at=values["expires_at"],
        task_id=values["task_id"], project_id=project_id, task_type=values["task_type"],
        prompt_id=values["prompt_id"], prompt_text=values["prompt_text"],
        prompt_messages=_json(values["prompt_messages"]),
        responses=[(shown["id"], shown["text"]) for shown in _json(values["responses"])],
        criteria=_json(values["criteria"]), rationale_required=values["rationale_required"],
    ), 200


def _ranking_ids(ranking) -> list[int] | None:
    """The response ids of a well-formed ranking whose ids a bigint can hold, else None (the
    services then explain the 400)."""
    try:
        ids = ranking_response_ids(ranking=ranking)
    except DomainError:
        return None
    return ids if all(map(is_row_id, ids)) else None


def _plain_int(value):
    return None if value is None else int(value)  # an IntegerChoices member as the driver's plain int


def submit_params(*, token: str, assignment_id: int, fields: dict) -> list | None:
    """Parameters of `prefloop_submit` for a body's judgement fields (as `plain_judgement_fields`
    gives them), or None when the Python service should judge this body (a demonstration's text,
    criteria, a ranking that is not well formed, an id out of range: their answers, and errors,
    are Python's)."""
    ranking = fields.get("ranking")
    ids = _ranking_ids(ranking)
    if (ids is None or not is_row_id(assignment_id) or fields.get("text") not in (None, "")
            or fields.get("criteria", {}) != {}):
        return None
    rationale = fields.get("rationale", "")
    top = ranking[0]
    return [
        token, assignment_id, fields["client_id"], Jsonb(ranking), ids, len(ranking) == 1,
        top[0] if len(top) == 1 else None, _plain_int(pair_outcome(ranking)), fields.get("both_bad", False),
        fields.get("strength"), rationale, not rationale.strip(), Jsonb(sorted(set(fields.get("flags", [])))),
        fields.get("time_spent_ms"),
    ]


_SUBMIT_COLUMNS = (  # `prefloop_submit`'s columns, in its order; named as the judgement's body names them
    "defer", "created", "id", "assignment", "replaces", "task", "annotator", "ranking", "both_bad", "strength",
    "criteria", "rationale", "flags", "time_spent_ms", "client_id", "demonstration", "pair_outcome",
    "picked_first_shown", "created_at",
)


def submit_answer(row) -> tuple[dict, int] | None:
    """(body, status) of a submit from the function's row; None when the services must answer."""
    values = dict(zip(_SUBMIT_COLUMNS, row))
    if values["defer"] is not None:
        return None
    for column in ("ranking", "criteria", "flags"):
        values[column] = _json(values[column])
    return judgement_answer(judgement_body(values), created=values["created"])


def _run(statement: str, params: list):
    """One function call: its own transaction in autocommit, a savepoint inside an outer one."""
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard, prepared_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


def next_via_sql(*, token: str, project_id: int) -> tuple[dict | None, int] | None:
    """`next` through `prefloop_next` on Django's connection; None when the services must answer."""
    params = next_params(token=token, project_id=project_id)
    if params is None:
        return None
    return next_answer(_run(NEXT_SQL, params), project_id=project_id)


def submit_via_sql(*, token: str, assignment_id: int, fields: dict) -> tuple[dict, int] | None:
    """A submit through `prefloop_submit` on Django's connection; None when the services must answer
    (also when a concurrent retry with the same client_id won the race: they find its judgement)."""
    params = submit_params(token=token, assignment_id=assignment_id, fields=fields)
    if params is None:
        return None
    try:
        return submit_answer(_run(SUBMIT_SQL, params))
    except IntegrityError:
        return None


# Many calls in one statement: the ASGI front sends together the calls that wait for a connection
# (`annotation.hot_path.grouped_calls`). One statement is one transaction: the calls' writes commit
# together, once. Each row carries its call's place in the arrays. The calls run in an order that
# two groups at the same time share, so that they take their row locks in the same order and wait
# for each other rather than deadlock: `next` by token (the membership's lock), a submit by task
# (the task's counters; the assignment is the annotator's own).
NEXT_MANY_SQL = (
    "SELECT b.place, r.* FROM ("
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::float8[]) WITH ORDINALITY"
    " AS u(token, project, gold_draw, place) ORDER BY u.token, u.place) b"
    " CROSS JOIN LATERAL prefloop_next(b.token, b.project, b.gold_draw) AS r"
)
SUBMIT_MANY_SQL = (
    "SELECT b.place, r.* FROM ("
    "SELECT u.*, a.task_id FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::jsonb[], %s::text[],"
    " %s::boolean[], %s::bigint[], %s::smallint[], %s::boolean[], %s::smallint[], %s::text[], %s::boolean[],"
    " %s::jsonb[], %s::integer[]) WITH ORDINALITY AS u(token, assignment, client_id, ranking, ranking_ids, tie,"
    " first, pair_outcome, both_bad, strength, rationale, rationale_blank, flags, time_spent_ms, place)"
    " LEFT JOIN annotation_assignment a ON a.id = u.assignment ORDER BY a.task_id, u.place) b"
    " CROSS JOIN LATERAL prefloop_submit(b.token, b.assignment, b.client_id, b.ranking, b.ranking_ids::bigint[],"
    " b.tie, b.first, b.pair_outcome, b.both_bad, b.strength, b.rationale, b.rationale_blank, b.flags,"
    " b.time_spent_ms) AS r"
)
MANY_SQL = {NEXT_SQL: NEXT_MANY_SQL, SUBMIT_SQL: SUBMIT_MANY_SQL}


def _array_text(values) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def many_params(statement: str, calls: list[list]) -> list[list]:
    """`MANY_SQL[statement]`'s parameters for the calls' own: one array per parameter. A submit's
    ranking ids go as an array's text (an array of arrays must be rectangular; rankings differ)."""
    columns = [list(column) for column in zip(*calls)]
    if statement == SUBMIT_SQL:
        columns[4] = [_array_text(ids) for ids in columns[4]]
    return columns

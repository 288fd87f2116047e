"""The current judgements of a project as numpy arrays, for agreement and consensus.

On PostgreSQL each read is one query returning `array_agg` columns in the binary protocol, parsed
by numpy without a Python object per row; other databases (the SQLite of `make run`) go through
the ORM, with the same result. A current judgement is identified by (task, annotator): an
annotator gets a task once, and only the newest judgement of a replacement chain is current.
"""
import datetime as dt
from dataclasses import dataclass

import numpy as np
import psycopg
from django.db import connection
from psycopg.adapt import Loader
from psycopg.pq import Format

from annotation.analytics.rankings import decompose_rankings, factorize_units, ranking_pairs
from annotation.models import Assignment, ComparisonTask, Judgement, Project

PURPOSE_CODES = {
    ComparisonTask.Purpose.TRAINING: 0,
    ComparisonTask.Purpose.EVALUATION: 1,
    ComparisonTask.Purpose.GOLD: 2,
}
TRAINING, EVALUATION, GOLD = 0, 1, 2
EPOCH = dt.date(1970, 1, 1)


@dataclass
class JudgementArrays:
    """One row per current judgement (nothing replaces it), ordered by `judgement_key`.

    strength, time_ms: float with NaN when not given; picked_first, pair_outcome: -1 when not given;
    day: days since 1970-01-01 (UTC) of created_at; purpose: 0 training, 1 evaluation, 2 gold;
    flagged: the judgement raised at least one flag.
    """

    annotator_id: np.ndarray
    task_id: np.ndarray
    is_ai: np.ndarray
    both_bad: np.ndarray
    strength: np.ndarray
    time_ms: np.ndarray
    picked_first: np.ndarray
    pair_outcome: np.ndarray
    flagged: np.ndarray
    day: np.ndarray
    purpose: np.ndarray

    def __len__(self) -> int:
        return len(self.task_id)

    @property
    def key(self) -> np.ndarray:
        return judgement_key(self.task_id, self.annotator_id)

    def sorted(self) -> "JudgementArrays":
        order = np.argsort(self.key, kind="stable")
        return JudgementArrays(*(getattr(self, name)[order] for name in self.__dataclass_fields__))


def judgement_key(task_id: np.ndarray, annotator_id: np.ndarray) -> np.ndarray:
    """One int64 per (task, annotator): user ids are int4, task ids stay below 2**32."""
    return (np.asarray(task_id, dtype=np.int64) << 31) | np.asarray(annotator_id, dtype=np.int64)


@dataclass
class PairVotes:
    """One row per (judgement, response pair): `row` indexes JudgementArrays; outcome 0/1/2
    (lower id wins, higher id wins, tie); `criterion` indexes the project's criteria (-1 overall)."""

    row: np.ndarray
    task_id: np.ndarray
    lower_id: np.ndarray
    higher_id: np.ndarray
    outcome: np.ndarray
    criterion: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def subset(self, mask: np.ndarray) -> "PairVotes":
        return PairVotes(*(getattr(self, name)[mask] for name in self.__dataclass_fields__))

    def units(self) -> tuple[np.ndarray, int]:
        """(unit index per vote, number of units): a unit is one response pair of one task.
        Computed once and kept, since every statistic groups by it."""
        if not hasattr(self, "_units"):
            self._units = factorize_units(self.task_id, self.lower_id, self.higher_id)
        return self._units


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


class _RawBinaryLoader(Loader):
    """Hands the binary wire format of an array through untouched, for numpy to parse."""

    format = Format.BINARY

    def load(self, data):
        return bytes(data)


INT4_ARRAY_OID, INT8_ARRAY_OID = 1007, 1016


def _int_array(data: bytes | None) -> np.ndarray:
    """A one-dimensional int4[] / int8[] in PostgreSQL's binary format as an int64 numpy array.

    Layout: int32 ndim, int32 has-nulls flag, int32 element type oid, then per dimension
    (int32 length, int32 lower bound), then per element (int32 byte length, big-endian value).
    """
    if data is None:
        return np.zeros(0, dtype=np.int64)
    ndim, has_nulls, element_oid = np.frombuffer(data, dtype=">i4", count=3)
    if ndim == 0:
        return np.zeros(0, dtype=np.int64)
    if ndim != 1 or has_nulls:
        raise ValueError("expected a one-dimensional integer array without NULLs")
    size = 8 if element_oid == 20 else 4
    elements = np.frombuffer(data, dtype=[("length", ">i4"), ("value", f">i{size}")], offset=12 + 8 * ndim)
    return elements["value"].astype(np.int64)


def _fetch_int_arrays(sql: str) -> list[np.ndarray]:
    """Runs a query that returns one row of `array_agg(<int expression>)` columns (binary protocol)
    and returns them as numpy arrays: one round trip, no Python object per element."""
    connection.ensure_connection()
    # Django's default client-side-binding cursor cannot ask for binary results; a plain one can.
    with psycopg.Cursor(connection.connection) as cursor:
        for oid in (INT4_ARRAY_OID, INT8_ARRAY_OID):
            cursor.adapters.register_loader(oid, _RawBinaryLoader)
        cursor.execute(sql, binary=True)
        row = cursor.fetchone()
    return [_int_array(value) for value in row]


CURRENT_JUDGEMENTS_SQL = """
    FROM annotation_judgement j
    WHERE j.project_id = {project_id}
      AND NOT EXISTS (SELECT 1 FROM annotation_judgement r WHERE r.replaces_id = j.id)
"""


def _judgements_postgres(project_id: int, purpose_of_task) -> JudgementArrays:
    # Three int8 arrays carry every column: small fields are bit-packed to halve the transfer.
    sql = (
        """SELECT array_agg(j.task_id),
           array_agg((j.annotator_id::int8 << 32) | (COALESCE(j.time_spent_ms, -1)::int8 & 4294967295)),
           array_agg((j.is_ai::int | (j.both_bad::int << 1) | (COALESCE(j.strength, 0) << 2)
            | ((COALESCE(j.picked_first_shown::int, -1) + 1) << 5)
            | ((COALESCE(j.pair_outcome, -1) + 1) << 7)
            -- Stored size, not parsed: an empty jsonb array or object takes 8 bytes, anything more is larger.
            | ((pg_column_size(j.flags) > 8)::int << 12)
           )::int8 | (((j.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01')::int8 << 32))"""
        + CURRENT_JUDGEMENTS_SQL.format(project_id=int(project_id))
    )
    task_id, annotator_time, packed = _fetch_int_arrays(sql)
    annotator_id = annotator_time >> 32
    time_ms = (annotator_time & 0xFFFFFFFF).astype(np.int64)
    time_ms = np.where(time_ms == 0xFFFFFFFF, np.nan, time_ms.astype(float))
    bits = packed & 0xFFFFFFFF
    strength = ((bits >> 2) & 7).astype(float)
    judgements = JudgementArrays(
        task_id=task_id,
        annotator_id=annotator_id,
        is_ai=(bits & 1).astype(bool),
        both_bad=((bits >> 1) & 1).astype(bool),
        strength=np.where(strength == 0, np.nan, strength),
        time_ms=time_ms,
        picked_first=(((bits >> 5) & 3) - 1).astype(np.int8),
        pair_outcome=(((bits >> 7) & 7) - 1).astype(np.int8),
        flagged=((bits >> 12) & 1).astype(bool),
        day=packed >> 32,
        purpose=purpose_of_task(task_id),
    )
    return judgements.sorted()


def _ranking_rows_postgres(project_id: int, *, criteria: list[str] | None):
    """(judgement key, criterion index or -1, response id, tier) rows of the rankings to decompose:
    the overall ranking of judgements without a pair_outcome, or every criterion ranking."""
    current = CURRENT_JUDGEMENTS_SQL.format(project_id=int(project_id))
    if criteria is None:
        source = (
            "SELECT j.task_id, j.annotator_id, -1 AS criterion, j.ranking AS ranking" + current
            + " AND j.pair_outcome IS NULL AND jsonb_typeof(j.ranking) = 'array'"
        )
    else:
        names = ",".join("'" + name.replace("'", "''") + "'" for name in criteria)
        source = (
            f"SELECT j.task_id, j.annotator_id, (array_position(ARRAY[{names}]::text[], c.key) - 1) AS criterion,"
            " c.value AS ranking"
            + current.replace(
                "WHERE", ", jsonb_each(CASE WHEN jsonb_typeof(j.criteria) = 'object' THEN j.criteria"
                " ELSE '{}'::jsonb END) c WHERE", 1
            )
            + f" AND c.key IN ({names}) AND jsonb_typeof(c.value) = 'array'"
        )
    sql = f"""SELECT array_agg(s.task_id), array_agg(s.annotator_id), array_agg(s.criterion),
               array_agg((e.value #>> '{{}}')::int8), array_agg((tier.ordinality - 1)::int4)
        FROM ({source}) s,
        jsonb_array_elements(s.ranking) WITH ORDINALITY tier(value, ordinality),
        jsonb_array_elements(CASE WHEN jsonb_typeof(tier.value) = 'array' THEN tier.value ELSE '[]'::jsonb END) e
        WHERE jsonb_typeof(e.value) = 'number'"""
    task_id, annotator_id, criterion, response, tier = _fetch_int_arrays(sql)
    return judgement_key(task_id, annotator_id), criterion, response, tier


def _task_pair_postgres(project_id: int):
    """(task id, lowest response id, highest response id) of every two-response task."""
    return tuple(
        _fetch_int_arrays(
            f"""SELECT array_agg(task_id), array_agg(lower_id), array_agg(higher_id) FROM (
                SELECT tr.task_id, MIN(tr.response_id) AS lower_id, MAX(tr.response_id) AS higher_id
                FROM annotation_taskresponse tr JOIN annotation_comparisontask t ON t.id = tr.task_id
                WHERE t.project_id = {int(project_id)} GROUP BY tr.task_id HAVING COUNT(*) = 2) pairs"""
        )
    )


def _orm_rows(project_id: int) -> list[tuple]:
    return list(
        Judgement.objects.filter(project_id=project_id, replaced_by__isnull=True).values_list(
            "task_id", "annotator_id", "is_ai", "both_bad", "strength", "time_spent_ms",
            "picked_first_shown", "pair_outcome", "flags", "created_at", "ranking", "criteria",
        )
    )


def _judgements_orm(rows: list[tuple], purpose_of_task) -> JudgementArrays:
    def column(index, convert, dtype):
        return np.array([convert(row[index]) for row in rows], dtype=dtype)

    task_id = column(0, int, np.int64)
    return JudgementArrays(
        task_id=task_id,
        annotator_id=column(1, int, np.int64),
        is_ai=column(2, bool, bool),
        both_bad=column(3, bool, bool),
        strength=column(4, lambda v: np.nan if v is None else float(v), float),
        time_ms=column(5, lambda v: np.nan if v is None else float(v), float),
        picked_first=column(6, lambda v: -1 if v is None else int(v), np.int8),
        pair_outcome=column(7, lambda v: -1 if v is None else int(v), np.int8),
        flagged=column(8, lambda v: bool(v), bool),
        day=column(9, lambda v: (v.astimezone(dt.timezone.utc).date() - EPOCH).days, np.int64),
        purpose=purpose_of_task(task_id),
    ).sorted()


def _ranking_rows_orm(rows: list[tuple], *, criteria: list[str] | None):
    out = []
    for row in rows:
        if criteria is None:
            rankings = [(-1, row[10])] if row[7] is None else []
        else:
            given = row[11] if isinstance(row[11], dict) else {}
            rankings = [(criteria.index(name), ranking) for name, ranking in given.items() if name in criteria]
        for criterion, ranking in rankings:
            if not isinstance(ranking, list):
                continue
            for tier_index, tier in enumerate(ranking):
                for response_id in tier if isinstance(tier, list) else []:
                    if isinstance(response_id, int) and not isinstance(response_id, bool):
                        out.append((row[0], row[1], criterion, response_id, tier_index))
    array = np.array(out, dtype=np.int64).reshape(-1, 5)
    return judgement_key(array[:, 0], array[:, 1]), array[:, 2], array[:, 3], array[:, 4]


def _task_pair_orm(project_id: int):
    from django.db.models import Count, Max, Min

    rows = list(
        ComparisonTask.objects.filter(project_id=project_id)
        .annotate(n=Count("task_responses"), lower=Min("task_responses__response_id"), higher=Max("task_responses__response_id"))
        .filter(n=2)
        .values_list("id", "lower", "higher")
    )
    array = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return array[:, 0], array[:, 1], array[:, 2]


def _purpose_lookup(project_id: int):
    """A function task ids -> purpose codes; reads only the (few) tasks that are not for training."""
    rows = np.array(
        [
            (task_id, PURPOSE_CODES[purpose])
            for task_id, purpose in ComparisonTask.objects.filter(project_id=project_id)
            .exclude(purpose=ComparisonTask.Purpose.TRAINING)
            .values_list("id", "purpose")
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    order = np.argsort(rows[:, 0])
    ids, codes = rows[order, 0], rows[order, 1]

    def purpose_of_task(task_id: np.ndarray) -> np.ndarray:
        purpose = np.full(len(task_id), TRAINING, dtype=np.int8)
        if len(ids):
            position = np.minimum(np.searchsorted(ids, task_id), len(ids) - 1)
            found = ids[position] == task_id
            purpose[found] = codes[position[found]]
        return purpose

    return purpose_of_task


@dataclass
class ProjectJudgements:
    """Everything agreement and consensus read: judgements, overall votes, criterion votes."""

    judgements: JudgementArrays
    votes: PairVotes
    criterion_votes: PairVotes | None
    criteria: list[str]


def project_judgements(*, project: Project, with_criteria: bool = True, with_response_ids: bool = True) -> ProjectJudgements:
    """Loads the project's current judgements and their pairwise votes (overall and per criterion).

    with_response_ids=False skips looking up the two responses of pairwise tasks: their votes then
    carry -1 / -1 as (lower_id, higher_id), which is enough to tell units apart (one pair per task).
    """
    criteria = [str(name) for name in (project.criteria or [])]
    purpose_of_task = _purpose_lookup(project.pk)
    if _is_postgres():
        judgements = _judgements_postgres(project.pk, purpose_of_task)
        # Rankings are parsed in SQL only when some judgement has no pair_outcome (K-way tasks).
        if np.any(judgements.pair_outcome < 0):
            ranking_rows = _ranking_rows_postgres(project.pk, criteria=None)
        else:
            ranking_rows = (np.zeros(0, dtype=np.int64),) * 4
        criterion_rows = (
            _ranking_rows_postgres(project.pk, criteria=criteria) if with_criteria and criteria else None
        )
        task_pairs = _task_pair_postgres(project.pk) if with_response_ids else None
    else:
        rows = _orm_rows(project.pk)
        judgements = _judgements_orm(rows, purpose_of_task)
        ranking_rows = _ranking_rows_orm(rows, criteria=None)
        criterion_rows = _ranking_rows_orm(rows, criteria=criteria) if with_criteria and criteria else None
        task_pairs = _task_pair_orm(project.pk) if with_response_ids else None
    votes = _pair_votes(judgements, ranking_rows, task_pairs)
    criterion_votes = _ranking_votes(judgements, criterion_rows) if criterion_rows is not None else None
    return ProjectJudgements(judgements, votes, criterion_votes, criteria)


def _row_of(judgements: JudgementArrays, keys: np.ndarray) -> np.ndarray:
    # judgements are sorted by key; every ranking row belongs to a loaded judgement.
    return np.searchsorted(judgements.key, keys)


def _ranking_votes(judgements: JudgementArrays, ranking_rows) -> PairVotes:
    """Pairwise votes from (judgement key, criterion, response, tier) rows."""
    key, criterion, response, tier = ranking_rows
    rows = _row_of(judgements, key)
    # Several rankings per judgement (one per criterion): decompose each (judgement, criterion).
    slots = int(criterion.max()) + 2 if len(criterion) else 1
    owner = rows * slots + (criterion + 1)
    owner_out, lower, higher, outcome = decompose_rankings(owner, response, tier)
    out_rows = owner_out // slots
    return PairVotes(
        row=out_rows,
        task_id=judgements.task_id[out_rows],
        lower_id=lower,
        higher_id=higher,
        outcome=outcome.astype(np.int8),
        criterion=(owner_out % slots) - 1,
    )


def _pair_votes(judgements: JudgementArrays, ranking_rows, task_pairs) -> PairVotes:
    """Overall votes: pair_outcome where submitted (two-response tasks), rankings otherwise."""
    direct = np.flatnonzero(judgements.pair_outcome >= 0)
    if task_pairs is None:
        lower = higher = np.full(len(direct), -1, dtype=np.int64)
    else:
        pair_task, pair_lower, pair_higher = task_pairs
        order = np.argsort(pair_task)
        pair_task, pair_lower, pair_higher = pair_task[order], pair_lower[order], pair_higher[order]
        position = np.searchsorted(pair_task, judgements.task_id[direct])
        known = position < len(pair_task)
        known[known] = pair_task[position[known]] == judgements.task_id[direct[known]]
        direct, position = direct[known], position[known]
        lower, higher = pair_lower[position], pair_higher[position]
    direct_votes = PairVotes(
        row=direct,
        task_id=judgements.task_id[direct],
        lower_id=lower,
        higher_id=higher,
        outcome=judgements.pair_outcome[direct].astype(np.int8),
        criterion=np.full(len(direct), -1, dtype=np.int64),
    )
    ranked = _ranking_votes(judgements, ranking_rows)
    return PairVotes(
        *(
            np.concatenate([getattr(direct_votes, name), getattr(ranked, name)])
            for name in PairVotes.__dataclass_fields__
        )
    )


def skipped_assignments_by_annotator(*, project: Project) -> dict[int, int]:
    """{annotator id: skipped assignments} (reads only skipped rows, through the holder index)."""
    from django.db.models import Count

    rows = (
        Assignment.objects.filter(project=project, state=Assignment.State.SKIPPED)
        .values("annotator_id")
        .annotate(skipped=Count("id"))
        .values_list("annotator_id", "skipped")
    )
    return dict(rows)


def gold_pair_outcomes(*, project: Project) -> dict[tuple[int, int, int], int]:
    """{(task id, lower id, higher id): outcome} from the gold rankings of the project's gold tasks.

    A two-response gold task is also keyed (task id, -1, -1), the unit key of votes loaded
    without response ids.
    """
    answers = {}
    for task_id, ranking in ComparisonTask.objects.filter(
        project=project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking__isnull=False
    ).values_list("id", "gold_ranking"):
        try:
            pairs = ranking_pairs(ranking)
        except (TypeError, ValueError):  # a malformed gold answer is no answer
            continue
        for lower, higher, outcome in pairs:
            answers[(task_id, lower, higher)] = outcome
        if len(pairs) == 1:
            answers[(task_id, -1, -1)] = pairs[0][2]
    return answers

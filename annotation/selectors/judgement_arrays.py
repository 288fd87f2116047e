"""The current judgements of a project as numpy arrays, for agreement and consensus.

On PostgreSQL the rows stream out with one binary COPY each and are parsed by numpy without a
Python loop per row (a million judgements in well under a second); other databases (the SQLite
of `make run`) go through the ORM, with the same result.
"""
import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import connection

from annotation.analytics.rankings import decompose_rankings, ranking_pairs
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
    """One row per current judgement (nothing replaces it), ordered by id.

    strength, time_ms: float with NaN when not given; picked_first, pair_outcome: -1 when not given;
    day: days since 1970-01-01 (UTC) of created_at; purpose: 0 training, 1 evaluation, 2 gold;
    n_tiers: tiers in the overall ranking (1 with several responses = a tie).
    """

    id: np.ndarray
    annotator_id: np.ndarray
    task_id: np.ndarray
    is_ai: np.ndarray
    both_bad: np.ndarray
    strength: np.ndarray
    time_ms: np.ndarray
    picked_first: np.ndarray
    pair_outcome: np.ndarray
    n_flags: np.ndarray
    day: np.ndarray
    purpose: np.ndarray
    n_tiers: np.ndarray

    def __len__(self) -> int:
        return len(self.id)


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


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _copy_binary(sql: str, columns: list[tuple[str, str]]) -> np.ndarray:
    """Runs `COPY (sql) TO STDOUT (FORMAT binary)` and parses the fixed-width rows with numpy.

    columns: [(name, ">i4" | ">i8")]; every column must be NOT NULL (coalesce in SQL), which makes
    each row the same size: int16 field count, then (int32 length, value) per field.
    """
    dtype = [("field_count", ">i2")]
    for name, kind in columns:
        dtype += [(f"{name}_length", ">i4"), (name, kind)]
    chunks = []
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                chunks.append(bytes(chunk))
    data = b"".join(chunks)
    # 11-byte signature, int32 flags, int32 header extension length (0), rows, int16 -1 trailer.
    header = 19
    body = data[header:-2]
    return np.frombuffer(body, dtype=np.dtype(dtype))


CURRENT_JUDGEMENTS_SQL = """
    FROM annotation_judgement j
    JOIN annotation_comparisontask t ON t.id = j.task_id
    WHERE j.project_id = {project_id}
      AND NOT EXISTS (SELECT 1 FROM annotation_judgement r WHERE r.replaces_id = j.id)
"""


def _judgements_postgres(project_id: int) -> JudgementArrays:
    sql = (
        """SELECT j.id, j.annotator_id::int4, j.task_id,
           (j.is_ai::int | (j.both_bad::int << 1) | (COALESCE(j.strength, 0) << 2)
            | ((COALESCE(j.picked_first_shown::int, -1) + 1) << 5)
            | ((COALESCE(j.pair_outcome, -1) + 1) << 7)
            | ((CASE t.purpose WHEN 'training' THEN 0 WHEN 'evaluation' THEN 1 ELSE 2 END) << 10)
            | (LEAST(CASE WHEN jsonb_typeof(j.flags) = 'array' THEN jsonb_array_length(j.flags) ELSE 0 END, 255) << 12)
            | (LEAST(CASE WHEN jsonb_typeof(j.ranking) = 'array' THEN jsonb_array_length(j.ranking) ELSE 0 END, 255) << 20)
           )::int4,
           COALESCE(j.time_spent_ms, -1)::int4,
           ((j.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01')::int4"""
        + CURRENT_JUDGEMENTS_SQL.format(project_id=int(project_id))
        + " ORDER BY j.id"
    )
    rows = _copy_binary(
        sql,
        [("id", ">i8"), ("annotator", ">i4"), ("task", ">i8"), ("bits", ">i4"), ("time", ">i4"), ("day", ">i4")],
    )
    bits = rows["bits"].astype(np.int64)
    strength = ((bits >> 2) & 7).astype(float)
    time_ms = rows["time"].astype(float)
    return JudgementArrays(
        id=rows["id"].astype(np.int64),
        annotator_id=rows["annotator"].astype(np.int64),
        task_id=rows["task"].astype(np.int64),
        is_ai=(bits & 1).astype(bool),
        both_bad=((bits >> 1) & 1).astype(bool),
        strength=np.where(strength == 0, np.nan, strength),
        time_ms=np.where(time_ms < 0, np.nan, time_ms),
        picked_first=(((bits >> 5) & 3) - 1).astype(np.int8),
        pair_outcome=(((bits >> 7) & 7) - 1).astype(np.int8),
        n_flags=((bits >> 12) & 255).astype(np.int64),
        day=rows["day"].astype(np.int64),
        purpose=((bits >> 10) & 3).astype(np.int8),
        n_tiers=((bits >> 20) & 255).astype(np.int64),
    )


def _ranking_rows_postgres(project_id: int, *, criteria: list[str] | None):
    """(judgement id, criterion index or -1, response id, tier) rows of the rankings to decompose:
    the overall ranking of judgements without a pair_outcome, or every criterion ranking."""
    if criteria is None:
        source = "SELECT j.id AS jid, -1 AS criterion, j.ranking AS ranking" + CURRENT_JUDGEMENTS_SQL.format(
            project_id=int(project_id)
        ) + " AND j.pair_outcome IS NULL AND jsonb_typeof(j.ranking) = 'array'"
    else:
        names = ",".join("'" + name.replace("'", "''") + "'" for name in criteria)
        source = (
            f"SELECT j.id AS jid, (array_position(ARRAY[{names}]::text[], c.key) - 1) AS criterion,"
            " c.value AS ranking"
            + CURRENT_JUDGEMENTS_SQL.format(project_id=int(project_id)).replace(
                "WHERE", ", jsonb_each(CASE WHEN jsonb_typeof(j.criteria) = 'object' THEN j.criteria"
                " ELSE '{}'::jsonb END) c WHERE", 1
            )
            + f" AND c.key IN ({names}) AND jsonb_typeof(c.value) = 'array'"
        )
    sql = f"""SELECT s.jid, s.criterion::int4, (e.value #>> '{{}}')::int8, (tier.ordinality - 1)::int4
        FROM ({source}) s,
        jsonb_array_elements(s.ranking) WITH ORDINALITY tier(value, ordinality),
        jsonb_array_elements(CASE WHEN jsonb_typeof(tier.value) = 'array' THEN tier.value ELSE '[]'::jsonb END) e
        WHERE jsonb_typeof(e.value) = 'number'"""
    rows = _copy_binary(sql, [("jid", ">i8"), ("criterion", ">i4"), ("response", ">i8"), ("tier", ">i4")])
    return (
        rows["jid"].astype(np.int64),
        rows["criterion"].astype(np.int64),
        rows["response"].astype(np.int64),
        rows["tier"].astype(np.int64),
    )


def _task_pair_postgres(project_id: int):
    """(task id, lowest response id, highest response id) of every two-response task."""
    rows = _copy_binary(
        f"""SELECT tr.task_id, MIN(tr.response_id), MAX(tr.response_id)
            FROM annotation_taskresponse tr JOIN annotation_comparisontask t ON t.id = tr.task_id
            WHERE t.project_id = {int(project_id)} GROUP BY tr.task_id HAVING COUNT(*) = 2""",
        [("task", ">i8"), ("lower", ">i8"), ("higher", ">i8")],
    )
    return rows["task"].astype(np.int64), rows["lower"].astype(np.int64), rows["higher"].astype(np.int64)


def _orm_rows(project_id: int) -> list[tuple]:
    return list(
        Judgement.objects.filter(project_id=project_id, replaced_by__isnull=True)
        .order_by("id")
        .values_list(
            "id", "annotator_id", "task_id", "is_ai", "both_bad", "strength", "time_spent_ms",
            "picked_first_shown", "pair_outcome", "flags", "created_at", "task__purpose", "ranking", "criteria",
        )
    )


def _judgements_orm(rows: list[tuple]) -> JudgementArrays:
    def column(index, convert, dtype):
        return np.array([convert(row[index]) for row in rows], dtype=dtype)

    def optional(value, missing):
        return missing if value is None else value

    return JudgementArrays(
        id=column(0, int, np.int64),
        annotator_id=column(1, int, np.int64),
        task_id=column(2, int, np.int64),
        is_ai=column(3, bool, bool),
        both_bad=column(4, bool, bool),
        strength=column(5, lambda v: np.nan if v is None else float(v), float),
        time_ms=column(6, lambda v: np.nan if v is None else float(v), float),
        picked_first=column(7, lambda v: -1 if v is None else int(v), np.int8),
        pair_outcome=column(8, lambda v: optional(v, -1), np.int8),
        n_flags=column(9, lambda v: min(len(v), 255) if isinstance(v, list) else 0, np.int64),
        day=column(10, lambda v: (v.astimezone(dt.timezone.utc).date() - EPOCH).days, np.int64),
        purpose=column(11, lambda v: PURPOSE_CODES.get(v, GOLD), np.int8),
        n_tiers=column(12, lambda v: min(len(v), 255) if isinstance(v, list) else 0, np.int64),
    )


def _ranking_rows_orm(rows: list[tuple], *, criteria: list[str] | None):
    out = []
    for row in rows:
        if criteria is None:
            rankings = [(-1, row[12])] if row[8] is None else []
        else:
            given = row[13] if isinstance(row[13], dict) else {}
            rankings = [(criteria.index(name), ranking) for name, ranking in given.items() if name in criteria]
        for criterion, ranking in rankings:
            if not isinstance(ranking, list):
                continue
            for tier_index, tier in enumerate(ranking):
                for response_id in tier if isinstance(tier, list) else []:
                    if isinstance(response_id, int):
                        out.append((row[0], criterion, response_id, tier_index))
    array = np.array(out, dtype=np.int64).reshape(-1, 4)
    return array[:, 0], array[:, 1], array[:, 2], array[:, 3]


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


@dataclass
class ProjectJudgements:
    """Everything agreement and consensus read: judgements, overall votes, criterion votes."""

    judgements: JudgementArrays
    votes: PairVotes
    criterion_votes: PairVotes | None
    criteria: list[str]


def project_judgements(*, project: Project, with_criteria: bool = True) -> ProjectJudgements:
    """Loads the project's current judgements and their pairwise votes (overall and per criterion)."""
    criteria = [str(name) for name in (project.criteria or [])]
    if _is_postgres():
        judgements = _judgements_postgres(project.pk)
        ranking_rows = _ranking_rows_postgres(project.pk, criteria=None)
        criterion_rows = (
            _ranking_rows_postgres(project.pk, criteria=criteria) if with_criteria and criteria else None
        )
        task_pairs = _task_pair_postgres(project.pk)
    else:
        rows = _orm_rows(project.pk)
        judgements = _judgements_orm(rows)
        ranking_rows = _ranking_rows_orm(rows, criteria=None)
        criterion_rows = _ranking_rows_orm(rows, criteria=criteria) if with_criteria and criteria else None
        task_pairs = _task_pair_orm(project.pk)
    votes = _pair_votes(judgements, ranking_rows, task_pairs)
    criterion_votes = _ranking_votes(judgements, criterion_rows) if criterion_rows is not None else None
    return ProjectJudgements(judgements, votes, criterion_votes, criteria)


def _row_of(judgements: JudgementArrays, judgement_ids: np.ndarray) -> np.ndarray:
    # judgements.id is sorted ascending (ORDER BY id).
    return np.searchsorted(judgements.id, judgement_ids)


def _ranking_votes(judgements: JudgementArrays, ranking_rows) -> PairVotes:
    """Pairwise votes from (judgement id, criterion, response, tier) rows."""
    jid, criterion, response, tier = ranking_rows
    # Several rankings per judgement (one per criterion): decompose each (judgement, criterion).
    owner = jid * 64 + (criterion + 1)
    owner_out, lower, higher, outcome = decompose_rankings(owner, response, tier)
    out_jid = owner_out // 64
    rows = _row_of(judgements, out_jid)
    return PairVotes(
        row=rows,
        task_id=judgements.task_id[rows],
        lower_id=lower,
        higher_id=higher,
        outcome=outcome.astype(np.int8),
        criterion=(owner_out % 64) - 1,
    )


def _pair_votes(judgements: JudgementArrays, ranking_rows, task_pairs) -> PairVotes:
    """Overall votes: pair_outcome where submitted (two-response tasks), rankings otherwise."""
    direct = np.flatnonzero(judgements.pair_outcome >= 0)
    pair_task, pair_lower, pair_higher = task_pairs
    order = np.argsort(pair_task)
    pair_task, pair_lower, pair_higher = pair_task[order], pair_lower[order], pair_higher[order]
    position = np.searchsorted(pair_task, judgements.task_id[direct])
    known = position < len(pair_task)
    known[known] = pair_task[position[known]] == judgements.task_id[direct[known]]
    direct, position = direct[known], position[known]
    direct_votes = PairVotes(
        row=direct,
        task_id=judgements.task_id[direct],
        lower_id=pair_lower[position],
        higher_id=pair_higher[position],
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


def skipped_assignments_by_annotator(*, project: Project) -> dict[int, tuple[int, int]]:
    """{annotator id: (skipped, finished)} over the project's assignments (finished = submitted or skipped)."""
    from django.db.models import Count, Q

    rows = (
        Assignment.objects.filter(project=project)
        .values("annotator_id")
        .annotate(
            skipped=Count("id", filter=Q(state=Assignment.State.SKIPPED)),
            finished=Count("id", filter=Q(state__in=[Assignment.State.SKIPPED, Assignment.State.SUBMITTED])),
        )
    )
    return {row["annotator_id"]: (row["skipped"], row["finished"]) for row in rows}


def gold_pair_outcomes(*, project: Project) -> dict[tuple[int, int, int], int]:
    """{(task id, lower id, higher id): outcome} from the gold rankings of the project's gold tasks."""
    answers = {}
    for task_id, ranking in ComparisonTask.objects.filter(
        project=project, purpose=ComparisonTask.Purpose.GOLD, gold_ranking__isnull=False
    ).values_list("id", "gold_ranking"):
        if isinstance(ranking, list):
            for lower, higher, outcome in ranking_pairs(ranking):
                answers[(task_id, lower, higher)] = outcome
    return answers

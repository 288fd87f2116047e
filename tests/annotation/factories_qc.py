"""Small ORM factories for the quality-control tests: judgements filled exactly as the model documents."""
import datetime as dt
import itertools
import uuid

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotation.analytics.rankings import HIGHER_ID_WINS, LOWER_ID_WINS, TIE
from annotation.models import (
    Assignment,
    ComparisonTask,
    Judgement,
    Membership,
    Project,
    Prompt,
    Response,
    TaskResponse,
)

_counter = itertools.count(1)


def make_user(username: str | None = None, **fields):
    return get_user_model().objects.create_user(username=username or f"user{next(_counter)}", password="pw-123456", **fields)


def make_project(**fields) -> Project:
    fields.setdefault("name", f"project {next(_counter)}")
    return Project.objects.create(**fields)


def make_member(project: Project, username: str | None = None, role: str = Membership.Role.ANNOTATOR, **fields):
    user = make_user(username)
    Membership.objects.create(project=project, user=user, role=role, **fields)
    return user


def make_task(project: Project, *, n_responses: int = 2, purpose: str = ComparisonTask.Purpose.TRAINING, gold_ranking=None):
    """A task with `n_responses` responses (ids ascending in canonical position)."""
    key = next(_counter)
    prompt = Prompt.objects.create(project=project, text=f"prompt {key}", content_hash=f"p{key}")
    responses = [
        Response.objects.create(prompt=prompt, text=f"response {key}.{i}", content_hash=f"r{key}.{i}")
        for i in range(n_responses)
    ]
    task = ComparisonTask.objects.create(project=project, prompt=prompt, purpose=purpose, content_hash=f"t{key}")
    TaskResponse.objects.bulk_create(
        [TaskResponse(task=task, response=response, position=i) for i, response in enumerate(responses)]
    )
    if gold_ranking is not None:
        # gold_ranking given as tiers of positions; stored as tiers of response ids
        task.gold_ranking = [[responses[i].pk for i in tier] for tier in gold_ranking]
        task.save(update_fields=["gold_ranking"])
    task.response_ids = [r.pk for r in responses]
    return task


def pair_outcome_of(ranking: list[list[int]]) -> int | None:
    """The derived pair_outcome of a two-response ranking (coded by response identity)."""
    ids = sorted(r for tier in ranking for r in tier)
    if len(ids) != 2:
        return None
    if len(ranking) == 1:
        return TIE
    return LOWER_ID_WINS if ranking[0][0] == ids[0] else HIGHER_ID_WINS


def judge(
    task,
    annotator,
    ranking_positions,
    *,
    display_order_positions=None,
    strength=None,
    both_bad=False,
    is_ai=False,
    time_spent_ms=20_000,
    flags=(),
    criteria_positions=None,
    created_at=None,
    state=Assignment.State.SUBMITTED,
):
    """Records a submitted judgement; rankings and display orders are given as tiers of positions."""
    ids = task.response_ids
    ranking = [[ids[i] for i in tier] for tier in ranking_positions]
    shown = [ids[i] for i in (display_order_positions or range(len(ids)))]
    now = timezone.now()
    assignment = Assignment.objects.create(
        project=task.project, task=task, annotator=annotator, state=state, leased_at=now,
        expires_at=now + dt.timedelta(minutes=15), finished_at=now, display_order=shown,
    )
    if state == Assignment.State.SKIPPED:
        return None
    outcome = pair_outcome_of(ranking)
    picked_first = None
    if len(ids) == 2 and outcome != TIE and not both_bad:
        picked_first = ranking[0][0] == shown[0]
    judgement = Judgement.objects.create(
        assignment=assignment, project=task.project, task=task, annotator=annotator, ranking=ranking,
        both_bad=both_bad, strength=strength, is_ai=is_ai, time_spent_ms=time_spent_ms, flags=list(flags),
        client_id=str(uuid.uuid4()), pair_outcome=outcome, picked_first_shown=picked_first,
        criteria={name: [[ids[i] for i in tier] for tier in tiers] for name, tiers in (criteria_positions or {}).items()},
    )
    if created_at is not None:
        Judgement.objects.filter(pk=judgement.pk).update(created_at=created_at)
    return judgement


def replace(judgement, ranking_positions):
    """An undo: a new judgement on the same assignment that replaces `judgement`."""
    task = judgement.task
    ids = task.response_ids if hasattr(task, "response_ids") else list(
        task.task_responses.order_by("position").values_list("response_id", flat=True)
    )
    ranking = [[ids[i] for i in tier] for tier in ranking_positions]
    outcome = pair_outcome_of(ranking)
    shown = judgement.assignment.display_order
    return Judgement.objects.create(
        assignment=judgement.assignment, replaces=judgement, project=judgement.project, task=task,
        annotator=judgement.annotator, ranking=ranking, client_id=str(uuid.uuid4()), pair_outcome=outcome,
        picked_first_shown=(ranking[0][0] == shown[0]) if outcome in (LOWER_ID_WINS, HIGHER_ID_WINS) else None,
        time_spent_ms=judgement.time_spent_ms,
    )


def bulk_pairwise_tasks(project: Project, n_tasks: int) -> list[ComparisonTask]:
    """`n_tasks` two-response training tasks created in a few queries (for simulated crowds)."""
    key = next(_counter)
    prompts = Prompt.objects.bulk_create(
        [Prompt(project=project, text=f"prompt {key}.{i}", content_hash=f"p{key}.{i}") for i in range(n_tasks)]
    )
    responses = Response.objects.bulk_create(
        [Response(prompt=p, text=f"response {p.pk}.{j}", content_hash=f"r{p.pk}.{j}") for p in prompts for j in range(2)]
    )
    tasks = ComparisonTask.objects.bulk_create(
        [ComparisonTask(project=project, prompt=p, content_hash=f"t{key}.{i}") for i, p in enumerate(prompts)]
    )
    TaskResponse.objects.bulk_create(
        [TaskResponse(task=t, response=responses[2 * i + j], position=j) for i, t in enumerate(tasks) for j in range(2)]
    )
    for i, task in enumerate(tasks):
        task.response_ids = [responses[2 * i].pk, responses[2 * i + 1].pk]
    return tasks


def bulk_judge(rows) -> None:
    """rows: (task, annotator, winner position 0/1, shown-first position 0/1); two-response tasks."""
    now = timezone.now()
    rows = list(rows)
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                project=task.project, task=task, annotator=annotator, state=Assignment.State.SUBMITTED,
                leased_at=now, expires_at=now + dt.timedelta(minutes=15), finished_at=now,
                display_order=[task.response_ids[first], task.response_ids[1 - first]],
            )
            for task, annotator, _, first in rows
        ]
    )
    judgements = []
    for assignment, (task, annotator, winner, first) in zip(assignments, rows):
        ranking = [[task.response_ids[winner]], [task.response_ids[1 - winner]]]
        judgements.append(
            Judgement(
                assignment=assignment, project=task.project, task=task, annotator=annotator, ranking=ranking,
                client_id=str(uuid.uuid4()), pair_outcome=pair_outcome_of(ranking),
                picked_first_shown=winner == first, time_spent_ms=15_000,
            )
        )
    Judgement.objects.bulk_create(judgements)

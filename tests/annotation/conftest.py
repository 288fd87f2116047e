"""The annotate loop's two implementations, held equal by running the same tests against each.

A module that lists `hot_path_impl` in `pytest.mark.usefixtures` runs every test twice:
- "python": `HOT_PATH_SQL_FUNCTIONS` off; the API and the services take the Python services' way.
- "sql": `HOT_PATH_SQL_FUNCTIONS` on (production's way on PostgreSQL); the API calls the SQL
  functions first, and the module's direct calls of `assignment_next`, `assignment_next_in_project`
  and `judgement_submit` go the same way: the SQL function first, the services when it defers (as
  the views do), answering with the same model instances and `DomainError`s.
"""
import pytest
from rest_framework.authtoken.models import Token

from annotation.hot_path import sql_functions
from annotation.hot_path.request_input import plain_judgement_fields
from annotation.models import Assignment, Judgement
from annotation.services import assignments, judgements

_SERVICE_DEFAULTS = {"both_bad": False, "strength": None, "criteria": None, "rationale": "", "flags": None,
                     "time_spent_ms": None, "text": None}


def _token(annotator) -> str:
    return Token.objects.get_or_create(user=annotator)[0].key


def _lease(answer) -> Assignment | None:
    data, status = answer
    if status == 204:
        return None
    return Assignment.objects.select_related("task__prompt", "project", "annotator").get(pk=data["assignment"]["id"])


def next_through_sql(*, project, annotator) -> Assignment | None:
    """`assignment_next` by `prefloop_next`, the services answering what it defers."""
    answer = sql_functions.next_via_sql(token=_token(annotator), project_id=project.pk)
    if answer is None:
        return assignments.assignment_next(project=project, annotator=annotator)
    return _lease(answer)


def next_in_project_through_sql(*, project_id, annotator) -> Assignment | None:
    """`assignment_next_in_project` by `prefloop_next`, the services answering what it defers."""
    answer = sql_functions.next_via_sql(token=_token(annotator), project_id=project_id)
    if answer is None:
        return assignments.assignment_next_in_project(project_id=project_id, annotator=annotator)
    return _lease(answer)


def submit_through_sql(*, assignment_id, annotator, client_id, is_ai=False, **verdict):
    """`judgement_submit` by `prefloop_submit` for what a request body could carry (the body check
    first, as the views run it), the services answering everything else."""
    body = {"client_id": client_id, **{k: v for k, v in verdict.items() if v != _SERVICE_DEFAULTS.get(k, object())}}
    fields = None if is_ai else plain_judgement_fields(body)
    answer = None
    if fields is not None:
        answer = sql_functions.submit_via_sql(token=_token(annotator), assignment_id=assignment_id, fields=fields)
    if answer is None:
        return judgements.judgement_submit(assignment_id=assignment_id, annotator=annotator, client_id=client_id,
                                           is_ai=is_ai, **verdict)
    data, status = answer
    return Judgement.objects.get(pk=data["id"]), status == 201


_THROUGH_SQL = {
    "assignment_next": next_through_sql,
    "assignment_next_in_project": next_in_project_through_sql,
    "judgement_submit": submit_through_sql,
}


@pytest.fixture(params=["python", "sql"])
def hot_path_impl(request, settings, monkeypatch) -> str:
    """Which implementation of the annotate loop this run of the test uses (see the module)."""
    settings.HOT_PATH_SQL_FUNCTIONS = request.param == "sql"
    if request.param == "sql":
        for name, through_sql in _THROUGH_SQL.items():
            if name in vars(request.module):
                monkeypatch.setattr(request.module, name, through_sql)
    return request.param

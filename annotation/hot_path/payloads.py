"""The annotate loop's answers, built in one place: a lease's body, a judgement's body, their statuses.

Every way through the loop answers with these: the Python services' (from model instances), the
SQL functions' (from their rows, on Django's connection or the ASGI front's pool), and the
prefetch and replace views. `NextSerializer` and `JudgementSerializer` document the same shapes for
the OpenAPI schema; `tests/annotation/test_judgement_submit.py` holds the two equal.
"""
from rest_framework.renderers import JSONRenderer

from annotation.models import Assignment, Judgement, Response

# A judgement's body, in this order (`JudgementSerializer`'s fields).
JUDGEMENT_KEYS = (
    "id", "assignment", "task", "annotator", "replaces", "ranking", "both_bad", "strength", "criteria",
    "rationale", "flags", "time_spent_ms", "client_id", "demonstration", "pair_outcome",
    "picked_first_shown", "created_at",
)
NOTHING_LEFT = (None, 204)
_RENDERER = JSONRenderer()


def lease_payload(*, assignment_id: int, leased_at, expires_at, task_id: int, project_id: int, task_type: str,
                  prompt_id: int, prompt_text: str, prompt_messages, responses, criteria,
                  rationale_required: bool) -> dict:
    """`{assignment: {id, expires_at, leased_at}, task: {id, project_id, task_type, prompt, responses,
    criteria, rationale_required}}`; `responses` are (id, text) pairs in the order this annotator sees them.

    Gold tasks look exactly like other tasks: no purpose or known answer is revealed.
    """
    return {
        "assignment": {"id": assignment_id, "expires_at": expires_at, "leased_at": leased_at},
        "task": {
            "id": task_id,
            "project_id": project_id,
            "task_type": task_type,
            "prompt": {"id": prompt_id, "text": prompt_text, "messages": prompt_messages},
            "responses": [{"id": response_id, "text": text} for response_id, text in responses],
            "criteria": criteria,
            "rationale_required": rationale_required,
        },
    }


def assignment_payload(*, assignment: Assignment) -> dict:
    """`lease_payload` of a lease held as a model instance (the services' way)."""
    task, project = assignment.task, assignment.project
    texts = getattr(assignment, "response_texts", None)  # set by the services when they read them already
    if texts is None:
        texts = dict(Response.objects.filter(pk__in=assignment.display_order).values_list("pk", "text"))
    return lease_payload(
        assignment_id=assignment.pk, leased_at=assignment.leased_at, expires_at=assignment.expires_at,
        task_id=task.pk, project_id=project.pk, task_type=project.task_type, prompt_id=task.prompt.pk,
        prompt_text=task.prompt.text, prompt_messages=task.prompt.messages,
        responses=[(response_id, texts[response_id]) for response_id in assignment.display_order],
        criteria=project.criteria, rationale_required=project.rationale_required,
    )


def next_answer(assignment: Assignment | None) -> tuple[dict | None, int]:
    """(body, status) of `next`: 200 with the lease, 204 when nothing is left."""
    return NOTHING_LEFT if assignment is None else (assignment_payload(assignment=assignment), 200)


def judgement_body(values) -> dict:
    """A judgement's body from a mapping holding `JUDGEMENT_KEYS` (a SQL function's decoded row)."""
    return {key: values[key] for key in JUDGEMENT_KEYS}


def judgement_payload(judgement: Judgement) -> dict:
    """A judgement's body from a model instance (no serializer machinery: the submit path is hot)."""
    return judgement_body({
        "id": judgement.pk, "assignment": judgement.assignment_id, "task": judgement.task_id,
        "annotator": judgement.annotator_id, "replaces": judgement.replaces_id, "ranking": judgement.ranking,
        "both_bad": judgement.both_bad, "strength": judgement.strength, "criteria": judgement.criteria,
        "rationale": judgement.rationale, "flags": judgement.flags, "time_spent_ms": judgement.time_spent_ms,
        "client_id": judgement.client_id, "demonstration": judgement.demonstration_id,
        "pair_outcome": judgement.pair_outcome, "picked_first_shown": judgement.picked_first_shown,
        "created_at": judgement.created_at,
    })


def judgement_answer(body: dict, *, created: bool) -> tuple[dict, int]:
    """(body, status) of a submit or a replace: 201 when recorded now, 200 for a retry's first judgement."""
    return body, 201 if created else 200


def rendered_json(data) -> bytes:
    """The bytes DRF's JSONRenderer gives `data` (none for None)."""
    return _RENDERER.render(data) if data is not None else b""

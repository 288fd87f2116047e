"""What an annotator sees for an assignment: the prompt and the responses in display order."""
from annotation.models import Assignment, Response


def prompt_payload(prompt) -> dict:
    return {"id": prompt.pk, "text": prompt.text, "messages": prompt.messages}


def assignment_payload(*, assignment: Assignment) -> dict:
    """`{assignment: {id, expires_at, display_order}, task: {id, task_type, prompt, responses, criteria,
    rationale_required, guidelines_url}}` with responses in the order this annotator sees them.

    Gold tasks look exactly like other tasks: no purpose or known answer is revealed.
    """
    task = assignment.task
    project = assignment.project
    texts = getattr(assignment, "response_texts", None)
    if texts is None:
        texts = dict(Response.objects.filter(pk__in=assignment.display_order).values_list("pk", "text"))
    return {
        "assignment": {
            "id": assignment.pk,
            "expires_at": assignment.expires_at,
            "leased_at": assignment.leased_at,
        },
        "task": {
            "id": task.pk,
            "project_id": project.pk,
            "task_type": project.task_type,
            "prompt": prompt_payload(task.prompt),
            "responses": [{"id": rid, "text": texts[rid]} for rid in assignment.display_order],
            "criteria": project.criteria,
            "rationale_required": project.rationale_required,
        },
    }

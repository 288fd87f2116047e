"""Leasing the annotator's next task ahead of time, so the UI can show it the moment they submit."""
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.models import Assignment, Membership, Project
from annotation.services.assignments import assignment_next


@transaction.atomic
def assignment_prefetch(*, project: Project, annotator: AbstractBaseUser, current_assignment_id: int) -> Assignment | None:
    """The task after `current_assignment_id`, leased now; None when nothing else is left.

    At most one task is held ahead of the current one: asking again returns the same lease (any
    other live lease of the annotator counts as the one ahead, so nothing held is left behind).
    Nothing is prefetched unless `current_assignment_id` is the annotator's live lease in
    `project`. Every leasing rule (overlap, never twice, breadth-first, priority, gold mixing,
    pauses) is `assignment_next`'s: the current lease is set aside inside this transaction so that
    its "you already hold a task" answer does not apply, and restored before commit, so no other
    transaction ever sees it changed.
    """
    # Serializes with the annotator's own next/prefetch calls (assignment_next locks it again).
    Membership.objects.select_for_update().filter(project=project, user=annotator).first()
    now = timezone.now()
    live = list(
        Assignment.objects.select_for_update()
        .filter(project=project, annotator=annotator, state=Assignment.State.ACTIVE, expires_at__gt=now)
        .order_by("leased_at")
    )
    if not any(assignment.pk == current_assignment_id for assignment in live):
        return None
    ahead = [assignment for assignment in live if assignment.pk != current_assignment_id]
    if ahead:
        return Assignment.objects.select_related("task__prompt", "project").get(pk=ahead[0].pk)
    Assignment.objects.filter(pk=current_assignment_id).update(state=Assignment.State.SUBMITTED)
    try:
        prefetched = assignment_next(project=project, annotator=annotator)
    finally:
        Assignment.objects.filter(pk=current_assignment_id).update(state=Assignment.State.ACTIVE)
    return prefetched

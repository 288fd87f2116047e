"""RLAIF: an AI pseudo-annotator that judges tasks through the same services as people.

The AI is a real user with an `is_ai` membership, so its work goes through `assignment_next`
and `judgement_submit` (overlap, leases and the audit trail apply unchanged); its judgements are
marked `is_ai`, weighted for training by the project's `rlaif_weight` (in consensus), left out of
the retrain threshold and of the human evaluation, and its agreement with humans is reported like
any annotator's.
"""
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from annotation.models import Assignment, ComparisonTask, Membership, Project, TaskResponse
from annotation.services.assignments import assignment_next, assignment_skip
from annotation.services.judgements import judgement_submit

# Reward gaps that map onto the pairwise strength scale (1 negligible .. 4 significant); the
# reward model's scores are logits of a Bradley-Terry model, so a gap of 1.5 means ~82% odds.
STRENGTH_GAPS = (0.1, 0.5, 1.5)


@dataclass(frozen=True)
class AIJudging:
    judged: int
    skipped: int


@transaction.atomic
def ai_annotator_ensure(*, project: Project):
    """The project's AI pseudo-annotator account (created on first use, no usable password)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=f"ai-judge-project-{project.pk}")
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(
        project=project, user=user, defaults={"role": Membership.Role.ANNOTATOR, "is_ai": True}
    )
    return user


def ai_candidate_tasks(*, project: Project, annotator, limit: int) -> list[ComparisonTask]:
    """Open training tasks the AI has not been assigned yet, the iteration's newest first."""
    seen = Assignment.objects.filter(annotator=annotator).values("task_id")
    return list(
        ComparisonTask.objects.filter(project=project, is_complete=False, purpose=ComparisonTask.Purpose.TRAINING)
        .exclude(pk__in=seen)
        .order_by("-pk")[:limit]
    )


def _strength(gap: float) -> int:
    return 1 + sum(gap >= threshold for threshold in STRENGTH_GAPS)


def _ranking(response_ids: list[int], scores: dict[int, float]) -> list[list[int]]:
    """Tiers of response ids, best first; equal scores share a tier."""
    tiers: list[list[int]] = []
    for response_id in sorted(response_ids, key=lambda r: -scores[r]):
        if tiers and scores[tiers[-1][0]] == scores[response_id]:
            tiers[-1].append(response_id)
        else:
            tiers.append([response_id])
    return tiers


def ai_judgements_submit(*, project: Project, annotator, scores: dict[int, float], max_tasks: int) -> AIJudging:
    """The AI asks for work like a person and judges each task by the scores of its responses.

    A task whose responses were not all scored is skipped with a reason (it will not come back to
    the AI). Stops when nothing is left for it or after `max_tasks` tasks.
    """
    judged = skipped = 0
    for _ in range(max_tasks):
        assignment = assignment_next(project=project, annotator=annotator)
        if assignment is None:
            break
        response_ids = list(TaskResponse.objects.filter(task_id=assignment.task_id).values_list("response_id", flat=True))
        if not response_ids or any(r not in scores for r in response_ids):
            assignment_skip(assignment_id=assignment.pk, annotator=annotator, reason="Not scored by the AI judge.")
            skipped += 1
            continue
        ranking = _ranking(response_ids, scores)
        strength = None
        if project.task_type == Project.TaskType.PAIRWISE and len(ranking) == 2:
            strength = _strength(abs(scores[ranking[0][0]] - scores[ranking[1][0]]))
        judgement_submit(
            assignment_id=assignment.pk, annotator=annotator, client_id=f"rlaif-{assignment.pk}",
            ranking=ranking, strength=strength, is_ai=True, rationale="AI judge: reward-model scores.",
        )
        judged += 1
    return AIJudging(judged=judged, skipped=skipped)

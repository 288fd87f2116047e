"""Reads about projects and memberships, always scoped to what the caller may see."""
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from annotation.errors import DomainError
from annotation.models import ComparisonTask, Judgement, Membership, Project, Response
from annotation.permissions import ADMIN


def projects_visible_to(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Every project for a superuser; otherwise the projects the user is a member of."""
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def project_get_for_user(*, user: AbstractBaseUser, project_id: int) -> Project:
    """The project if the user may see it; a 404 DomainError otherwise (no existence leak)."""
    project = projects_visible_to(user=user).filter(pk=project_id).first()
    if project is None:
        raise DomainError(f"Project {project_id} not found.", code="not_found", http_status=404)
    return project


def user_projects_with_roles(*, user: AbstractBaseUser) -> list[dict]:
    """`[{id, name, role, paused}]` for the UI: memberships first, then (for superusers) the rest."""
    rows = []
    seen = set()
    for membership in Membership.objects.filter(user=user).select_related("project").order_by("project__name"):
        seen.add(membership.project_id)
        rows.append(
            {
                "id": membership.project_id,
                "name": membership.project.name,
                "role": ADMIN if user.is_superuser else membership.role,
                "paused": membership.paused,
            }
        )
    if user.is_superuser:
        for project in Project.objects.exclude(pk__in=seen).order_by("name"):
            rows.append({"id": project.pk, "name": project.name, "role": ADMIN, "paused": False})
    return rows


def project_progress(*, project: Project) -> dict:
    """Counts for the project page: tasks by purpose and completion, judgements, open leases."""
    tasks = ComparisonTask.objects.filter(project=project).aggregate(
        total=Count("id"),
        complete=Count("id", filter=Q(is_complete=True)),
        gold=Count("id", filter=Q(purpose=ComparisonTask.Purpose.GOLD)),
        started=Count("id", filter=Q(judgement_count__gt=0)),
    )
    judgements = Judgement.objects.filter(project=project, replaced_by__isnull=True).count()
    return {
        "tasks": tasks["total"],
        "tasks_complete": tasks["complete"],
        "tasks_started": tasks["started"],
        "gold_tasks": tasks["gold"],
        "judgements": judgements,
    }


def members_of(*, project: Project) -> QuerySet[Membership]:
    """The project's memberships with their users, by username."""
    return Membership.objects.filter(project=project).select_related("user").order_by("user__username")


def project_response_texts(*, project: Project) -> list[tuple[dict, str]]:
    """Every response of the project with its prompt, as annotators are shown them:
    ({"text", "messages"} of the prompt, the response's text)."""
    rows = Response.objects.filter(prompt__project=project).values_list("prompt__text", "prompt__messages", "text")
    return [({"text": text, "messages": messages}, response) for text, messages, response in rows.iterator()]

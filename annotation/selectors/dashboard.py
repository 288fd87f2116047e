"""Reads for the web UI's dashboards: an annotator's work left, a project's throughput and backlog.

Everything is aggregated in SQL (counts grouped by hour, day, strength), never by looping over rows.
"""
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Greatest, TruncDay, TruncHour
from django.utils import timezone

from annotation.models import Assignment, ComparisonTask, Judgement, Membership, Project
from annotation.permissions import ADMIN

HOURS_SHOWN = 48
DAYS_SHOWN = 30


def tasks_left_for(*, user: AbstractBaseUser, project: Project) -> int:
    """Tasks of `project` that still need judgements and that `user` has not finished (the task
    they hold a live lease on counts as left)."""
    finished = Assignment.objects.filter(task=OuterRef("pk"), annotator=user).exclude(
        state=Assignment.State.ACTIVE
    )
    return ComparisonTask.objects.filter(project=project, is_complete=False).exclude(Exists(finished)).count()


def workload_for(*, user: AbstractBaseUser) -> list[dict]:
    """One row per project the user works in: role, tasks left for them, what they judged today."""
    memberships = {m.project_id: m for m in Membership.objects.filter(user=user)}
    projects = Project.objects.all() if user.is_superuser else Project.objects.filter(pk__in=memberships)
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    judged = dict(
        Judgement.objects.filter(annotator=user, replaces__isnull=True)
        .values_list("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
    )
    judged_today = dict(
        Judgement.objects.filter(annotator=user, replaces__isnull=True, created_at__gte=today)
        .values_list("project_id")
        .annotate(n=Count("id"))
        .values_list("project_id", "n")
    )
    rows = []
    for project in projects.order_by("name"):
        membership = memberships.get(project.pk)
        rows.append(
            {
                "project": {
                    "id": project.pk,
                    "name": project.name,
                    "task_type": project.task_type,
                },
                "role": ADMIN if user.is_superuser or not membership else membership.role,
                "tasks_left": tasks_left_for(user=user, project=project),
                "judged_by_me": judged.get(project.pk, 0),
                "judged_today": judged_today.get(project.pk, 0),
                "paused": bool(membership and membership.paused),
                "paused_reason": membership.paused_reason if membership else "",
            }
        )
    return rows


def _series(queryset, trunc, start, step: timedelta, count: int) -> list[dict]:
    """Counts per bucket from `start`, with the empty buckets filled in as zeros."""
    counts = {
        row["bucket"]: row["n"]
        for row in queryset.filter(created_at__gte=start)
        .annotate(bucket=trunc("created_at"))
        .values("bucket")
        .annotate(n=Count("id"))
    }
    return [{"t": (start + i * step).isoformat(), "n": counts.get(start + i * step, 0)} for i in range(count)]


def project_dashboard(*, project: Project) -> dict:
    """Throughput per hour and per day, backlog and completion, strengths, outcomes and flags."""
    now = timezone.now()
    originals = Judgement.objects.filter(project=project, replaces__isnull=True)
    current = Judgement.objects.filter(project=project, replaced_by__isnull=True)
    hour_start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS_SHOWN - 1)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS_SHOWN - 1)

    tasks = ComparisonTask.objects.filter(project=project).aggregate(
        total=Count("id"),
        complete=Count("id", filter=Q(is_complete=True)),
        in_progress=Count("id", filter=Q(is_complete=False, judgement_count__gt=0)),
        needed=Sum(
            Greatest(project.overlap - F("judgement_count"), 0),
            filter=Q(is_complete=False),
        ),
    )
    strengths = dict(
        current.exclude(strength__isnull=True).values_list("strength").annotate(n=Count("id")).values_list("strength", "n")
    )
    outcome_counts = current.aggregate(
        first_shown=Count("id", filter=Q(picked_first_shown=True, both_bad=False)),
        second_shown=Count("id", filter=Q(picked_first_shown=False, both_bad=False)),
        tie=Count("id", filter=Q(pair_outcome=Judgement.PairOutcome.TIE, both_bad=False)),
        both_bad=Count("id", filter=Q(both_bad=True)),
    )
    flag_counts: dict[str, int] = {}
    for flags in current.exclude(flags=[]).values_list("flags", flat=True):
        for flag in flags or []:
            flag_counts[flag] = flag_counts.get(flag, 0) + 1
    return {
        "throughput_hourly": _series(originals, TruncHour, hour_start, timedelta(hours=1), HOURS_SHOWN),
        "throughput_daily": _series(originals, TruncDay, day_start, timedelta(days=1), DAYS_SHOWN),
        "tasks_total": tasks["total"],
        "tasks_complete": tasks["complete"],
        "tasks_in_progress": tasks["in_progress"],
        "judgements_total": current.count(),
        "judgements_needed": tasks["needed"] or 0,
        "active_leases": Assignment.objects.filter(
            project=project, state=Assignment.State.ACTIVE, expires_at__gt=now
        ).count(),
        "skips": Assignment.objects.filter(project=project, state=Assignment.State.SKIPPED).count(),
        "strength_distribution": [{"strength": s, "n": strengths.get(s, 0)} for s in (1, 2, 3, 4)],
        "outcome_distribution": [{"outcome": k, "n": v} for k, v in outcome_counts.items()],
        "flags": [{"flag": k, "n": v} for k, v in sorted(flag_counts.items())],
    }

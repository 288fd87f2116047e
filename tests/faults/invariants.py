"""The annotate loop's guarantees after a fault, as queries over what the database holds."""
from collections import Counter

from annotation.models import Assignment, ComparisonTask, Judgement, Project


def assert_nothing_lost_nothing_doubled(project: Project, accepted: dict[str, int], *, all_answered: bool) -> None:
    """`accepted`: client_id -> judgement id of every submit a client got a 2xx for.

    - every such judgement exists exactly once, under its client_id, with the id the client saw;
    - with `all_answered` (every client retried until it got an answer), no judgement exists that
      no client was told about;
    - no task is over its overlap, and its counter equals its judgements;
    - no assignment is lost: each judgement's assignment is `submitted`, each submitted assignment
      has exactly one judgement, and no lease is left `active` by a client that went on;
    - none is double-leased: one assignment per (task, annotator), and per task no more leases that
      count (live or submitted) than its overlap.
    """
    judgements = Judgement.objects.filter(project=project)
    per_client_id = Counter(judgements.values_list("client_id", flat=True))
    ids = dict(judgements.values_list("client_id", "pk"))
    lost = {c: j for c, j in accepted.items() if per_client_id[c] != 1 or ids.get(c) != j}
    assert not lost, f"2xx answers whose judgement is missing, doubled or different: {lost}"
    if all_answered:
        unknown = set(per_client_id) - set(accepted)
        assert not unknown, f"judgements no client was answered for: {sorted(unknown)}"
    assert max(per_client_id.values(), default=0) <= 1

    per_task = Counter(judgements.values_list("task_id", flat=True))
    for task in ComparisonTask.objects.filter(project=project):
        assert per_task[task.pk] <= project.overlap, f"task {task.pk} over its overlap: {per_task[task.pk]}"
        assert task.judgement_count == per_task[task.pk], (
            f"task {task.pk} counts {task.judgement_count} judgements, has {per_task[task.pk]}")
        assert task.is_complete == (per_task[task.pk] >= project.overlap)

    assignments = Assignment.objects.filter(project=project)
    per_assignment = Counter(judgements.values_list("assignment_id", flat=True))
    states = dict(assignments.values_list("pk", "state"))
    wrong = {a: states.get(a) for a in per_assignment if states.get(a) != Assignment.State.SUBMITTED}
    assert not wrong, f"judged assignments not submitted: {wrong}"
    submitted = [a for a, state in states.items() if state == Assignment.State.SUBMITTED]
    assert all(per_assignment[a] == 1 for a in submitted), "a submitted assignment without exactly one judgement"
    assert max(Counter(assignments.values_list("task_id", "annotator_id")).values(), default=0) <= 1
    holding = Counter(assignments.filter(state__in=[Assignment.State.ACTIVE, Assignment.State.SUBMITTED])
                      .values_list("task_id", flat=True))
    assert max(holding.values(), default=0) <= project.overlap, "a task leased beyond its overlap"
    if all_answered:
        active = list(assignments.filter(state=Assignment.State.ACTIVE).values_list("pk", flat=True))
        assert not active, f"leases left active although their clients went on: {active}"

"""Gold-task accuracy: how often an annotator's current verdicts match the known answers."""
from django.contrib.auth.models import AbstractBaseUser

from annotation.models import ComparisonTask, Judgement, Project


def gold_judgement_correct(*, ranking: list[list[int]], gold_ranking: list[list[int]]) -> bool:
    """A gold verdict is correct when its best tier equals the gold best tier (as sets).

    For a pair this means the same winner (or both a tie); for K responses, the same best answer.
    """
    if not ranking or not gold_ranking:
        return False
    return set(ranking[0]) == set(gold_ranking[0])


def gold_accuracy(*, project: Project, annotator: AbstractBaseUser) -> tuple[float, int]:
    """(accuracy, number of gold items judged) over the annotator's current gold judgements."""
    rows = Judgement.objects.filter(
        project=project,
        annotator=annotator,
        task__purpose=ComparisonTask.Purpose.GOLD,
        task__gold_ranking__isnull=False,
        replaced_by__isnull=True,
    ).values_list("ranking", "task__gold_ranking")
    results = [gold_judgement_correct(ranking=r, gold_ranking=g) for r, g in rows]
    if not results:
        return 0.0, 0
    return sum(results) / len(results), len(results)

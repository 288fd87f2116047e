"""Active pair selection: the reward model's uncertainty about a task orders the queue."""
import math

import pytest

from annotation.models import Project
from annotation.services.assignments import assignment_next
from annotation.services.iteration_tasks import pair_uncertainty, task_uncertainties_update
from tests.annotation.factories import add_member, make_project, make_task

pytestmark = pytest.mark.django_db
REWARD_MODEL_ID = 7


def score(task, rewards):
    links = task.task_responses.select_related("response").order_by("position")
    for response, reward in zip((link.response for link in links), rewards):
        response.metadata = {"rewards": {str(REWARD_MODEL_ID): reward}}
        response.save(update_fields=["metadata"])


def test_pair_uncertainty_is_one_for_a_coin_flip_and_falls_with_the_reward_gap():
    assert pair_uncertainty(0.3, 0.3) == pytest.approx(1.0)
    # P = sigmoid(2) = 0.8808 -> 1 - |2P - 1| = 0.2384
    assert pair_uncertainty(2.0, 0.0) == pytest.approx(1 - (2 / (1 + math.exp(-2)) - 1), abs=1e-9)
    assert pair_uncertainty(0.0, 2.0) == pytest.approx(pair_uncertainty(2.0, 0.0))
    assert pair_uncertainty(9.0, 0.0) < 0.001


def test_uncertain_tasks_are_served_first_when_the_project_orders_by_uncertainty():
    project = make_project(task_order=Project.TaskOrder.UNCERTAINTY)
    annotator = add_member(project)
    confident, unsure, unscored = make_task(project), make_task(project), make_task(project)
    score(confident, [3.0, -1.0])
    score(unsure, [0.1, 0.0])

    assert task_uncertainties_update(project=project, reward_model_id=REWARD_MODEL_ID) == 2

    confident.refresh_from_db(), unsure.refresh_from_db(), unscored.refresh_from_db()
    assert unsure.uncertainty > 0.9 > 0.1 > confident.uncertainty
    assert unscored.uncertainty is None
    served = [assignment_next(project=project, annotator=annotator).task_id]
    assert served == [unsure.pk]


def test_a_ranking_task_is_as_uncertain_as_its_least_certain_pair():
    project = make_project(task_type=Project.TaskType.RANKING, responses_per_task=3)
    task = make_task(project)
    score(task, [2.0, 0.0, 0.05])

    task_uncertainties_update(project=project, reward_model_id=REWARD_MODEL_ID)

    task.refresh_from_db()
    assert task.uncertainty == pytest.approx(pair_uncertainty(0.0, 0.05))

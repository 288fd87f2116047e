"""Human evaluation math: win-rate with ties as half, Bradley-Terry leaderboard, overoptimization."""
import math
import uuid

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from annotation.models import (
    ComparisonTask,
    Iteration,
    Membership,
    PolicyVersion,
    Project,
    Response,
    RewardModelVersion,
    TrainingJob,
)
from annotation.selectors.iteration_evaluation import (
    bradley_terry,
    iteration_evaluation,
    policy_leaderboard,
    reward_model_agreement,
)
from annotation.services.assignments import assignment_next
from annotation.services.iterations import iteration_evaluation_record
from annotation.services.judgements import judgement_submit
from annotation.services.tasks import prompt_get_or_create, response_content_hash, task_create


def test_bradley_terry_recovers_the_odds():
    # A beats B three times out of four: the odds 3:1 give a log-strength gap of log 3.
    rows = np.array([[0, 1, 1.0]] * 3 + [[1, 0, 1.0]])
    theta = bradley_terry(rows, 2)
    assert theta[0] - theta[1] == pytest.approx(math.log(3), abs=0.03)


def test_bradley_terry_counts_a_tie_as_half_a_win_each_way():
    rows = np.array([[0, 1, 1.0], [0, 1, 0.5], [1, 0, 0.5]])  # one win for A, one tie
    theta = bradley_terry(rows, 2)
    assert theta[0] - theta[1] == pytest.approx(math.log(3), abs=0.03)  # 1.5 : 0.5


class Loop:
    """A project with a reference and a trained policy, and helpers to judge their responses."""

    def __init__(self):
        self.project = Project.objects.create(name=f"eval {uuid.uuid4().hex[:6]}", base_policy_path="/x")
        self.reference = PolicyVersion.objects.create(project=self.project, name="reference", path="/x", is_reference=True)
        self.iteration = Iteration.objects.create(project=self.project, number=1, algorithm="ppo", status="succeeded",
                                                  policy_before=self.reference)
        self.new = PolicyVersion.objects.create(project=self.project, name="iteration-1", path="/y",
                                                iteration=self.iteration, parent=self.reference)
        self.iteration.policy_after = self.new
        self.iteration.save()
        self.annotator = get_user_model().objects.create_user(username=f"a{uuid.uuid4().hex[:6]}", password="pw-123456")
        Membership.objects.create(project=self.project, user=self.annotator)

    def second_iteration(self) -> Iteration:
        """Iteration 2, started from iteration 1's policy, with its own policy and reward model."""
        second = Iteration.objects.create(project=self.project, number=2, algorithm="ppo", status="succeeded",
                                          policy_before=self.new)
        second.policy_after = PolicyVersion.objects.create(project=self.project, name="iteration-2", path="/z",
                                                           iteration=second, parent=self.new)
        second.reward_model = RewardModelVersion.objects.create(project=self.project, iteration=second, path="/r2")
        second.save()
        return second

    def response(self, prompt, policy, text, reward=None):
        metadata = {"rewards": {str(self.iteration.reward_model_id): reward}} if reward is not None else {}
        return Response.objects.create(prompt=prompt, text=text, source="model", policy_version=policy,
                                       content_hash=response_content_hash(text), metadata=metadata)

    def judged_task(self, *, outcome: str, purpose="evaluation", iteration=None, rewards=(None, None), opponent=None):
        """A task new-vs-opponent (default: the policy the iteration started from) judged `outcome`
        ("win", "tie" or "loss" for the new policy)."""
        iteration = iteration or self.iteration
        prompt, _ = prompt_get_or_create(project=self.project, text=f"q {uuid.uuid4().hex}")
        new = self.response(prompt, iteration.policy_after, f"new {prompt.pk}", rewards[0])
        old = self.response(prompt, opponent or iteration.policy_before, f"old {prompt.pk}", rewards[1])
        task_create(project=self.project, prompt=prompt, responses=[old, new], purpose=purpose, iteration=iteration)
        assignment = assignment_next(project=self.project, annotator=self.annotator)
        ranking = {"win": [[new.pk], [old.pk]], "loss": [[old.pk], [new.pk]], "tie": [[new.pk, old.pk]]}[outcome]
        judgement_submit(assignment_id=assignment.pk, annotator=self.annotator, client_id=uuid.uuid4().hex,
                         ranking=ranking, strength=None if outcome == "tie" else 2)


@pytest.mark.django_db
def test_win_rate_counts_ties_half_with_a_bootstrap_interval():
    loop = Loop()
    for outcome in ["win", "win", "tie", "loss"]:
        loop.judged_task(outcome=outcome)
    evaluation = iteration_evaluation(iteration=loop.iteration)
    [versus_reference] = evaluation["win_rates"]
    assert versus_reference["opponent"] == "reference"
    assert (versus_reference["wins"], versus_reference["ties"], versus_reference["losses"]) == (2, 1, 1)
    assert versus_reference["win_rate"] == pytest.approx(2.5 / 4)
    assert 0.0 <= versus_reference["ci_low"] < 0.625 < versus_reference["ci_high"] <= 1.0


@pytest.mark.django_db
def test_the_leaderboard_ranks_the_preferred_policy_first_with_the_reference_at_1000():
    loop = Loop()
    for outcome in ["win", "win", "win", "loss", "tie"]:
        loop.judged_task(outcome=outcome)
    board = policy_leaderboard(project=loop.project)
    assert [row["policy"] for row in board] == ["iteration-1", "reference"]
    assert board[1]["score"] == 1000.0
    # 3.5 : 1.5 -> odds 7:3 -> 400 * log10(7/3) ~ 147 Elo points (shrunk a little by the prior)
    assert board[0]["score"] - 1000 == pytest.approx(400 * math.log10(7 / 3), abs=6)
    assert board[0]["ci_low"] <= board[0]["score"] <= board[0]["ci_high"]
    assert board[0]["n_judgements"] == 5


@pytest.mark.django_db
def test_overoptimization_is_flagged_when_the_reward_model_stops_agreeing_with_annotators():
    loop = Loop()
    loop.iteration.reward_model = RewardModelVersion.objects.create(project=loop.project, iteration=loop.iteration, path="/r")
    loop.iteration.save()
    # Iteration 1: annotators pick the new policy's sample, and the reward model agrees every time
    for _ in range(4):
        loop.judged_task(outcome="win", purpose=ComparisonTask.Purpose.TRAINING, rewards=(1.0, 0.0))
    assert reward_model_agreement(iteration=loop.iteration)["agreement"] == 1.0

    # Iteration 2: the reward model scores its policy higher, annotators disagree 3 times in 4
    second = loop.second_iteration()
    loop.iteration = second  # rewards are recorded under the iteration's reward model
    for outcome in ["loss", "loss", "loss", "win"]:
        loop.judged_task(outcome=outcome, purpose=ComparisonTask.Purpose.TRAINING, iteration=second, rewards=(2.0, 0.5))

    evaluation = iteration_evaluation_record(iteration=second)
    assert evaluation["reward_model_agreement"]["agreement"] == 0.25
    second.refresh_from_db()
    assert second.overoptimization_flag
    assert "agreement with annotators fell from 1.00" in second.overoptimization_reason
    assert second.summary["evaluation"]["reward_model_agreement"]["n"] == 4


def overoptimized_first_iteration(loop: "Loop", *, reward_before: float, reward_after: float, outcomes: list[str]):
    """The over-optimized loop run's situation: iteration 1 starts from the reference; the generate
    step scored the new policy's samples above the reference's with the new reward model (its
    metrics keys are reward_mean_<policy name>); annotators then judge the blind evaluation tasks."""
    loop.iteration.reward_model = RewardModelVersion.objects.create(project=loop.project, iteration=loop.iteration, path="/r")
    loop.iteration.save()
    TrainingJob.objects.create(iteration=loop.iteration, step="generate", order=5, status="succeeded", metrics={
        f"reward_mean_{loop.reference.name}": reward_before, f"reward_mean_{loop.new.name}": reward_after,
    })
    for outcome in outcomes:
        loop.judged_task(outcome=outcome)


@pytest.mark.django_db
def test_overoptimization_is_flagged_when_the_reward_rose_but_annotators_prefer_the_previous_policy():
    # Given the reward model's score rose 0.67 -> 0.88 and annotators prefer the reference 17 to 3
    loop = Loop()
    overoptimized_first_iteration(loop, reward_before=0.67, reward_after=0.88,
                                   outcomes=["win"] * 3 + ["loss"] * 17)
    # When the beat's service records the evaluation
    evaluation = iteration_evaluation_record(iteration=loop.iteration)
    # Then the platform's own monitor flags the iteration, saying why
    loop.iteration.refresh_from_db()
    assert evaluation["overoptimization"]["flagged"]
    assert loop.iteration.overoptimization_flag
    assert "the reward rose (0.670 -> 0.880)" in loop.iteration.overoptimization_reason
    assert "win-rate 0.15" in loop.iteration.overoptimization_reason


@pytest.mark.django_db
def test_no_overoptimization_flag_when_annotators_agree_with_the_rising_reward():
    loop = Loop()
    overoptimized_first_iteration(loop, reward_before=0.67, reward_after=0.88,
                                   outcomes=["win"] * 15 + ["loss"] * 5)
    iteration_evaluation_record(iteration=loop.iteration)
    loop.iteration.refresh_from_db()
    assert not loop.iteration.overoptimization_flag
    assert loop.iteration.overoptimization_reason == ""


@pytest.mark.django_db
def test_two_lost_evaluation_tasks_are_too_few_to_flag_overoptimization():
    # Given a rising reward and annotators preferring the reference on both of only 2 tasks
    # (bootstrap CI [0, 0])
    loop = Loop()
    overoptimized_first_iteration(loop, reward_before=0.67, reward_after=0.88, outcomes=["loss", "loss"])
    evaluation = iteration_evaluation_record(iteration=loop.iteration)
    assert evaluation["win_rates"][0]["ci_high"] == 0.0
    # Then the monitor waits for more evidence
    loop.iteration.refresh_from_db()
    assert not loop.iteration.overoptimization_flag


@pytest.mark.django_db
def test_overoptimization_is_flagged_when_annotators_prefer_the_reference_though_not_the_previous_policy():
    # Given iteration 2 starts from an already degenerate policy: against it, annotators see a
    # toss-up, but they prefer the reference 4 to 16 while the reward model scores the new policy highest
    loop = Loop()
    second = loop.second_iteration()
    TrainingJob.objects.create(iteration=second, step="generate", order=5, status="succeeded", metrics={
        "reward_mean_iteration-2": 0.9, "reward_mean_iteration-1": 0.8, "reward_mean_reference": 0.5,
    })
    for outcome in ["win", "loss"] * 5:
        loop.judged_task(outcome=outcome, iteration=second)
    for outcome in ["win"] * 4 + ["loss"] * 16:
        loop.judged_task(outcome=outcome, iteration=second, opponent=loop.reference)

    iteration_evaluation_record(iteration=second)

    second.refresh_from_db()
    assert second.overoptimization_flag
    assert "prefer 'reference' (win-rate 0.20" in second.overoptimization_reason
    assert "'iteration-1'" not in second.overoptimization_reason


@pytest.mark.django_db
def test_overoptimization_is_flagged_when_the_reward_model_ranks_fresh_samples_against_annotators():
    # Given iteration 1 (nothing to compare with): the reward model scores the new policy's samples
    # higher, and annotators pick the other sample 10 times in 12
    loop = Loop()
    loop.iteration.reward_model = RewardModelVersion.objects.create(project=loop.project, iteration=loop.iteration, path="/r")
    loop.iteration.save()
    for outcome in ["loss"] * 10 + ["win"] * 2:
        loop.judged_task(outcome=outcome, purpose=ComparisonTask.Purpose.TRAINING, rewards=(1.0, 0.0))

    evaluation = iteration_evaluation_record(iteration=loop.iteration)

    assert evaluation["reward_model_agreement"]["agreement"] == pytest.approx(2 / 12)
    loop.iteration.refresh_from_db()
    assert loop.iteration.overoptimization_flag
    assert "disagrees with annotators on the new policy's samples (agreement 0.17" in loop.iteration.overoptimization_reason


@pytest.mark.django_db
def test_too_few_disagreeing_pairs_raise_no_flag():
    loop = Loop()
    loop.iteration.reward_model = RewardModelVersion.objects.create(project=loop.project, iteration=loop.iteration, path="/r")
    loop.iteration.save()
    for _ in range(4):  # all four against the reward model, but four pairs prove little
        loop.judged_task(outcome="loss", purpose=ComparisonTask.Purpose.TRAINING, rewards=(1.0, 0.0))
    iteration_evaluation_record(iteration=loop.iteration)
    loop.iteration.refresh_from_db()
    assert not loop.iteration.overoptimization_flag

"""Sending a new policy's samples back to annotators: storing generated responses and creating the
comparison tasks (training) and the blind evaluation tasks of an iteration."""
import hashlib
import itertools
import math
import random

from django.db import transaction

from annotation.models import ComparisonTask, Iteration, PolicyVersion, Prompt, Response
from annotation.services.tasks import response_content_hash, task_create

# Evaluation tasks are served before training tasks of equal progress: they decide whether the
# new policy is better, and an engineer is waiting for that answer.
EVALUATION_PRIORITY = 1


@transaction.atomic
def policy_responses_store(*, policy: PolicyVersion, rows: list[dict], iteration: Iteration | None = None) -> int:
    """Stores sampled responses `{"id": prompt id, "response": text, "kl"?: float}` of `policy`.

    Idempotent: a response with the same text from the same policy to the same prompt is kept
    once. Rows naming prompts of another project, and empty responses, are ignored. Returns how
    many were new.
    """
    prompt_ids = {row["id"] for row in rows}
    prompts = Prompt.objects.filter(project_id=policy.project_id).in_bulk(prompt_ids)
    created = 0
    for row in rows:
        prompt = prompts.get(row["id"])
        text = row.get("response")
        if prompt is None or not isinstance(text, str):
            continue
        # A byte-level tokenizer can decode NUL bytes, which PostgreSQL text cannot hold.
        text = text.replace("\x00", "")
        if not text.strip():
            continue
        content_hash = response_content_hash(text)
        if Response.objects.filter(prompt=prompt, policy_version=policy, content_hash=content_hash).exists():
            continue
        metadata = {"sample": True}
        if iteration is not None:
            metadata["iteration"] = iteration.number
        if isinstance(row.get("kl"), (int, float)):
            metadata["kl"] = float(row["kl"])
        Response.objects.create(
            prompt=prompt, text=text, source=Response.Source.MODEL, policy_version=policy,
            content_hash=content_hash, metadata=metadata,
        )
        created += 1
    return created


@transaction.atomic
def response_rewards_store(*, reward_model_id: int, scores: dict[int, float]) -> None:
    """Records a reward model's score of responses (`{response id: reward}`) in their metadata."""
    for response in Response.objects.select_for_update().filter(pk__in=scores):
        rewards = dict(response.metadata.get("rewards", {}))
        rewards[str(reward_model_id)] = float(scores[response.pk])
        response.metadata = {**response.metadata, "rewards": rewards}
        response.save(update_fields=["metadata"])


def _latest_response(policy: PolicyVersion, prompt_id: int) -> Response | None:
    return Response.objects.filter(policy_version=policy, prompt_id=prompt_id).order_by("-pk").first()


def _shuffled(pair: list[Response], seed_text: str) -> list[Response]:
    """The pair in a random but reproducible canonical order, so position says nothing about age."""
    rng = random.Random(int(hashlib.sha256(seed_text.encode()).hexdigest()[:16], 16))
    pair = list(pair)
    rng.shuffle(pair)
    return pair


@transaction.atomic
def iteration_comparisons_create(*, iteration: Iteration, prompt_ids: list[int], new_policy: PolicyVersion,
                                 opponents: list[PolicyVersion], purpose: str) -> int:
    """Creates a task per prompt and opponent: the new policy's response against the opponent's.

    Opponents that are the new policy itself are skipped, the same opponent twice counts once,
    identical texts make no task, and an existing identical task is reused. Sides are shuffled;
    nothing in a task tells annotators which policy wrote which response. Returns tasks created.
    """
    unique_opponents = {o.pk: o for o in opponents if o.pk != new_policy.pk}
    created = 0
    for prompt_id in prompt_ids:
        new_response = _latest_response(new_policy, prompt_id)
        if new_response is None:
            continue
        for opponent in unique_opponents.values():
            other = _latest_response(opponent, prompt_id)
            if other is None or other.content_hash == new_response.content_hash:
                continue
            responses = _shuffled([new_response, other], f"{iteration.pk}:{prompt_id}:{opponent.pk}:{purpose}")
            _, was_created = task_create(
                project=iteration.project, prompt=new_response.prompt, responses=responses, purpose=purpose,
                priority=EVALUATION_PRIORITY if purpose == ComparisonTask.Purpose.EVALUATION else 0,
                iteration=iteration,
            )
            created += int(was_created)
    return created


def pair_uncertainty(reward_a: float, reward_b: float) -> float:
    """How unsure the reward model is which of two responses people prefer: 1 - |2P - 1|, where
    P = sigmoid(reward_a - reward_b) is its Bradley-Terry preference (1 = a coin flip, 0 = certain)."""
    preference = 1.0 / (1.0 + math.exp(-(reward_a - reward_b)))
    return 1.0 - abs(2.0 * preference - 1.0)


@transaction.atomic
def task_uncertainties_update(*, project, reward_model_id: int) -> int:
    """Stores on each open training task of `project` how unsure the reward model is about it,
    from the scores it gave the task's responses (`Response.metadata["rewards"]`); a K-way task
    counts as unsure as its least certain pair. With `task_order = "uncertainty"` those tasks are
    served first (active pair selection). Tasks with an unscored response are left as they are.
    Returns how many tasks were updated."""
    key = str(reward_model_id)
    tasks = list(
        ComparisonTask.objects.select_for_update()
        .filter(project=project, purpose=ComparisonTask.Purpose.TRAINING, is_complete=False)
        .prefetch_related("responses")
    )
    updated = []
    for task in tasks:
        rewards = [response.metadata.get("rewards", {}).get(key) for response in task.responses.all()]
        if len(rewards) < 2 or not all(isinstance(r, (int, float)) for r in rewards):
            continue
        task.uncertainty = max(pair_uncertainty(a, b) for a, b in itertools.combinations(rewards, 2))
        updated.append(task)
    ComparisonTask.objects.bulk_update(updated, ["uncertainty"])
    return len(updated)

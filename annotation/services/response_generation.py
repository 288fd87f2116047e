"""Sampling a policy's responses to a project's prompts in the background (`ResponseGeneration`).

The web side queues a generation; a worker then samples one chunk of prompts per Celery task
(`workers.generate_responses_chunk`) and records it here: the responses, one comparison task per
prompt (the policy's samples side by side), and the progress. Each chunk task queues the next, so
tasks appear while the rest is generated. A failure is recorded with its error and stops the
generation; `response_generation_retry` resumes it at the first prompt not yet done.

Claims keep two tasks from sampling the same chunk: a chunk is held by one Celery task id while its
heartbeat is fresh; a holder that died (no heartbeat for `stale_seconds`) loses the claim.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

from celery import current_app
from django.db import transaction
from django.utils import timezone

from annotation.errors import DomainError
from annotation.models import PolicyVersion, Project, Prompt, Response, ResponseGeneration
from annotation.services.iteration_snapshot import prompt_payload
from annotation.services.iteration_tasks import policy_responses_store
from annotation.services.tasks import response_content_hash, task_create

logger = logging.getLogger(__name__)

Status = ResponseGeneration.Status
LIVE = (Status.QUEUED, Status.RUNNING)
CHUNK_TASK = "workers.generate_responses_chunk"
# A chunk's holder beats about every second while its sampling process runs; one that has said
# nothing for this long died (a killed worker) and its chunk may be taken over.
STALE_SECONDS = 300
# The first chunk is small so the first tasks appear soon (loading the model is paid either way);
# later chunks use the generation's chunk size, where batching makes sampling cheaper per prompt.
FIRST_CHUNK_PROMPTS = 2


def _send_chunk(generation_id: int) -> None:
    try:
        current_app.send_task(CHUNK_TASK, args=[generation_id])
    except Exception:  # the broker is down: the row is committed, the beat's nudge sends it later
        logger.exception("Could not queue generation %s; the beat will retry.", generation_id)


def _enqueue_chunk(generation_id: int) -> None:
    """Asks a worker to sample the generation's next chunk, once the current transaction commits."""
    transaction.on_commit(lambda: _send_chunk(generation_id))


@dataclass(frozen=True)
class GenerationQueued:
    generation: ResponseGeneration
    created: bool
    retried: bool = False


@transaction.atomic
def response_generation_queue(*, project: Project, policy: PolicyVersion, prompt_ids: list[int],
                              samples_per_prompt: int = 2, chunk_size: int = 8,
                              options: dict | None = None) -> GenerationQueued:
    """Queues sampling `samples_per_prompt` responses of `policy` to each of `prompt_ids` (in this
    order) and a comparison task per prompt. Idempotent: a project samples a policy once, so
    queueing again returns the existing generation untouched (see `response_generation_retry`)."""
    if policy.project_id != project.pk:
        raise DomainError("The policy belongs to another project.", field="policy")
    if samples_per_prompt < 2:
        raise DomainError("A comparison needs at least 2 samples per prompt.", field="samples_per_prompt")
    if chunk_size < 1:
        raise DomainError("chunk_size must be at least 1.", field="chunk_size")
    known = set(Prompt.objects.filter(project=project, pk__in=prompt_ids).values_list("pk", flat=True))
    if set(prompt_ids) - known:
        raise DomainError("Some prompts are not in this project.", field="prompt_ids")
    generation, created = ResponseGeneration.objects.get_or_create(
        project=project, policy=policy,
        defaults={"prompt_ids": list(dict.fromkeys(prompt_ids)), "samples_per_prompt": samples_per_prompt,
                  "chunk_size": chunk_size, "options": options or {}},
    )
    if created:
        _enqueue_chunk(generation.pk)
    return GenerationQueued(generation, created)


@transaction.atomic
def response_generation_retry(*, generation_id: int) -> ResponseGeneration:
    """Queues a failed generation again; it resumes at its first prompt not yet done (the prompts
    done keep their responses and tasks). A generation that did not fail is left as it is."""
    generation = ResponseGeneration.objects.select_for_update().get(pk=generation_id)
    if generation.status != Status.FAILED:
        return generation
    generation.status, generation.error, generation.finished_at = Status.QUEUED, "", None
    generation.claimed_by, generation.heartbeat_at = "", None
    generation.save(update_fields=["status", "error", "finished_at", "claimed_by", "heartbeat_at"])
    _enqueue_chunk(generation.pk)
    return generation


@dataclass(frozen=True)
class GenerationChunk:
    """What a worker samples next: `prompts` as `python -m training generate` reads them."""

    generation_id: int
    start: int  # index in the generation's prompt list of the first prompt of this chunk
    size: int  # prompts of the list this chunk covers (deleted ones included: they count as done)
    policy_path: str
    prompts: list[dict]  # {"id": prompt id, "prompt": text or messages}
    samples_per_prompt: int
    options: dict


def _stale(generation: ResponseGeneration, now, stale_seconds: int) -> bool:
    return generation.heartbeat_at is None or generation.heartbeat_at < now - timedelta(seconds=stale_seconds)


@transaction.atomic
def response_generation_claim_chunk(*, generation_id: int, holder: str,
                                    stale_seconds: int = STALE_SECONDS) -> GenerationChunk | None:
    """Claims the generation's next chunk for the Celery task `holder` (queued/running -> running).

    None when there is nothing to do: the generation is gone or finished, or another live task
    holds a chunk (a duplicate message). A generation whose prompts are all done succeeds here.
    """
    generation = ResponseGeneration.objects.select_for_update().filter(pk=generation_id).first()
    if generation is None or generation.status not in LIVE:
        return None
    now = timezone.now()
    if generation.claimed_by and generation.claimed_by != holder and not _stale(generation, now, stale_seconds):
        return None
    if generation.prompts_done >= generation.prompts_total:
        _finish(generation, now)
        return None
    size = FIRST_CHUNK_PROMPTS if generation.prompts_done == 0 else generation.chunk_size
    ids = generation.prompt_ids[generation.prompts_done: generation.prompts_done + max(1, min(size, generation.chunk_size))]
    prompts = Prompt.objects.in_bulk(ids)
    generation.status, generation.claimed_by, generation.heartbeat_at = Status.RUNNING, holder, now
    generation.started_at = generation.started_at or now
    generation.save(update_fields=["status", "claimed_by", "heartbeat_at", "started_at"])
    return GenerationChunk(
        generation_id=generation.pk, start=generation.prompts_done, size=len(ids), policy_path=generation.policy.path,
        # a prompt deleted since queueing is skipped (and still counts as done)
        prompts=[{"id": pk, "prompt": prompt_payload(prompts[pk])} for pk in ids if pk in prompts],
        samples_per_prompt=generation.samples_per_prompt, options=dict(generation.options),
    )


def response_generation_beat(*, generation_id: int, holder: str) -> bool:
    """The chunk's holder is alive; False when it no longer holds the chunk (stop sampling)."""
    return bool(ResponseGeneration.objects.filter(pk=generation_id, claimed_by=holder, status=Status.RUNNING)
                .update(heartbeat_at=timezone.now()))


def _tasks_for_prompt(generation: ResponseGeneration, prompt: Prompt, texts: list[str]) -> int:
    """One task comparing the policy's first `samples_per_prompt` distinct samples (fewer distinct
    non-empty samples than that: no task; identical texts make no comparison)."""
    hashes = list(dict.fromkeys(response_content_hash(t.replace("\x00", "")) for t in texts if t.strip()))
    hashes = hashes[: generation.samples_per_prompt]
    if len(hashes) < generation.samples_per_prompt:
        return 0
    by_hash = {r.content_hash: r for r in Response.objects.filter(
        prompt=prompt, policy_version=generation.policy, content_hash__in=hashes).order_by("pk")}
    responses = [by_hash[h] for h in hashes if h in by_hash]
    if len(responses) < generation.samples_per_prompt:
        return 0
    _, created = task_create(project=generation.project, prompt=prompt, responses=responses,
                             metadata={"generation": generation.pk})
    return int(created)


@transaction.atomic
def response_generation_chunk_record(*, generation_id: int, holder: str, start: int, n_prompts: int,
                                     samples: list[dict]) -> ResponseGeneration | None:
    """Stores a sampled chunk (`samples`: generate's rows `{"id", "response"}`), creates its tasks
    and advances the progress past the chunk's `n_prompts` prompts, all in one transaction.

    Returns the generation (succeeded when that was its last chunk, else still running with the
    next chunk queued), or None when `holder` lost the chunk meanwhile (its samples are dropped:
    whoever took it over samples it again).
    """
    generation = ResponseGeneration.objects.select_for_update().select_related("policy", "project").get(
        pk=generation_id)
    if generation.claimed_by != holder or generation.status != Status.RUNNING or generation.prompts_done != start:
        return None
    policy_responses_store(policy=generation.policy, rows=samples)
    texts: dict[int, list[str]] = {}
    for row in samples:
        if isinstance(row.get("response"), str):
            texts.setdefault(row["id"], []).append(row["response"])
    prompts = Prompt.objects.filter(project=generation.project).in_bulk(texts)
    created = sum(_tasks_for_prompt(generation, prompts[pk], rows) for pk, rows in texts.items() if pk in prompts)
    now = timezone.now()
    generation.prompts_done = min(generation.prompts_total, start + n_prompts)
    generation.tasks_created += created
    if created and generation.first_tasks_at is None:
        generation.first_tasks_at = now
    generation.claimed_by, generation.heartbeat_at = "", now
    if generation.prompts_done >= generation.prompts_total:
        _finish(generation, now)
    else:
        generation.save()
        _enqueue_chunk(generation.pk)
    return generation


def _finish(generation: ResponseGeneration, now) -> None:
    generation.status, generation.finished_at, generation.claimed_by = Status.SUCCEEDED, now, ""
    generation.save()


@transaction.atomic
def response_generation_fail(*, generation_id: int, holder: str, error: str) -> bool:
    """Records why the holder's chunk failed; the generation stops there (failed, with its error)
    until someone retries it. False if `holder` no longer held the chunk."""
    return bool(ResponseGeneration.objects.filter(pk=generation_id, claimed_by=holder, status=Status.RUNNING).update(
        status=Status.FAILED, error=error.replace("\x00", "")[-4000:] or "failed", claimed_by="",
        finished_at=timezone.now(),
    ))


def response_generations_nudge_stale(*, stale_seconds: int = STALE_SECONDS) -> list[int]:
    """Queues again each live generation that has not moved for `stale_seconds` (its message was
    lost, or its worker died mid-chunk); a duplicate message finds the chunk held and does nothing.
    Returns the ids nudged."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    stale = list(ResponseGeneration.objects.filter(status__in=LIVE).exclude(heartbeat_at__gte=cutoff)
                 .exclude(heartbeat_at__isnull=True, created_at__gte=cutoff).values_list("pk", flat=True))
    for generation_id in stale:
        _send_chunk(generation_id)
    return stale

"""Sampling one chunk of a background `ResponseGeneration` with `python -m training generate`.

The same command, options and models cache as an iteration's generate step (workers/steps.py);
what differs is the bookkeeping: a chunk is claimed, its samples recorded with their tasks, and the
next chunk queued (annotation/services/response_generation.py).
"""
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from annotation.services.response_generation import (
    GenerationChunk,
    response_generation_beat,
    response_generation_chunk_record,
    response_generation_claim_chunk,
    response_generation_fail,
)
from training.client import TrainingCommandCancelled, TrainingCommandError, child_environment, run_training_command
from training.jsonl import read_jsonl, write_jsonl
from workers.steps import cli_options

logger = logging.getLogger(__name__)
# How often a chunk's holder records that it is alive (and learns whether it still holds the chunk):
# far below the stale limit (STALE_SECONDS), and rare enough not to crowd SQLite's one writer.
HEARTBEAT_SECONDS = 5.0


@dataclass(frozen=True)
class ChunkOutcome:
    status: str  # "recorded", "finished", "failed" or "not_claimed"
    prompts: int = 0


def generation_directory(generation_id: int) -> Path:
    return Path(settings.ARTIFACT_ROOT) / "generations" / str(generation_id)


def _still_holding(generation_id: int, holder: str) -> bool:
    try:
        return response_generation_beat(generation_id=generation_id, holder=holder)
    except DatabaseError:  # e.g. SQLite busy under `make run`: a missed beat is harmless, sampling goes on
        logger.warning("Could not record the heartbeat of generation %s", generation_id, exc_info=True)
        return True


def _sampling_environment() -> dict:
    threads = settings.GENERATION_CPU_THREADS
    extra = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)} if threads > 0 else {}
    return child_environment({**os.environ, **extra})


def _sample(chunk: GenerationChunk, holder: str) -> list[dict]:
    if not chunk.prompts:
        return []
    directory = generation_directory(chunk.generation_id)
    directory.mkdir(parents=True, exist_ok=True)
    prompts = write_jsonl(directory / f"prompts-{chunk.start:05d}.jsonl", chunk.prompts)
    output = directory / f"samples-{chunk.start:05d}.jsonl"
    run_training_command(
        "generate",
        [*cli_options(chunk.options), "--policy", chunk.policy_path, "--prompts", str(prompts),
         "--n", str(chunk.samples_per_prompt), "--output", str(output),
         # a seed per chunk: a retried chunk samples the same texts, and no two chunks share one
         "--seed", str(chunk.start), "--device", settings.TRAINING_DEVICE,
         # a built-in policy (smollm2-135m-instruct) is materialized once, where iterations find it
         "--models-dir", str(Path(settings.ARTIFACT_ROOT) / "models")],
        cwd=settings.BASE_DIR, env=_sampling_environment(),
        should_stop=lambda: not _still_holding(chunk.generation_id, holder), poll_seconds=HEARTBEAT_SECONDS,
    )
    return read_jsonl(output)


def generate_chunk(*, generation_id: int, holder: str) -> ChunkOutcome:
    """Claims the generation's next chunk for `holder` (a Celery task id), samples it and records
    it (which queues the next chunk), or records why it failed."""
    chunk = response_generation_claim_chunk(generation_id=generation_id, holder=holder)
    if chunk is None:
        return ChunkOutcome("not_claimed")
    try:
        samples = _sample(chunk, holder)
    except TrainingCommandCancelled:
        return ChunkOutcome("not_claimed")  # someone took the chunk over (this holder looked dead)
    except TrainingCommandError as error:
        response_generation_fail(generation_id=generation_id, holder=holder, error=f"generate failed: {error}")
        return ChunkOutcome("failed")
    except Exception as error:  # a bug: the traceback in the worker log, the gist for the manager
        logger.exception("Chunk of generation %s crashed", generation_id)
        response_generation_fail(generation_id=generation_id, holder=holder, error=f"{type(error).__name__}: {error}")
        return ChunkOutcome("failed")
    generation = response_generation_chunk_record(
        generation_id=generation_id, holder=holder, start=chunk.start,
        n_prompts=chunk.size, samples=samples)
    if generation is None:
        return ChunkOutcome("not_claimed")
    return ChunkOutcome("finished" if generation.status == generation.Status.SUCCEEDED else "recorded", chunk.size)

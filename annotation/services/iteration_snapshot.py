"""The dataset snapshot of an iteration: consensus pairs, demonstrations and prompts, frozen as
JSONL files under `ARTIFACT_ROOT/<project id>/<iteration number>/snapshot/` with a content hash.

Everything later in the iteration reads these files, never the live tables, so a re-run step sees
exactly the data its predecessors saw. Rows are written in a fixed order, so the same data gives
the same bytes and the same hash.
"""
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Max

from annotation.errors import DomainError
from annotation.models import Iteration, Judgement, Prompt, Response
from annotation.selectors.consensus import consensus_pairs

# Fewer pairs than this cannot train a reward model worth the compute.
MIN_PAIRS = 4
# Pairs held out to evaluate the reward model: one in ten, once there are enough to spare.
EVAL_EVERY = 10
MIN_PAIRS_FOR_EVAL_SPLIT = 20
MAX_PROMPTS = 20000

FILES = ("pairs_train.jsonl", "pairs_eval.jsonl", "demos.jsonl", "prompts.jsonl", "eval_prompts.jsonl")


@dataclass(frozen=True)
class Snapshot:
    directory: str
    dataset_hash: str
    demonstrations_hash: str
    judgement_watermark: int
    n_pairs_train: int
    n_pairs_eval: int
    n_demonstrations: int
    n_prompts: int
    n_eval_prompts: int

    def as_metrics(self) -> dict:
        return asdict(self)


def iteration_directory(iteration: Iteration) -> Path:
    """Where everything an iteration produces is written."""
    return Path(settings.ARTIFACT_ROOT) / str(iteration.project_id) / str(iteration.number)


OWNER_FILE = "project.json"


def project_artifacts_claim(project) -> Path:
    """The project's artifact directory, `ARTIFACT_ROOT/<project id>`, marked as this project's.

    Two databases that share one ARTIFACT_ROOT both have a project 1: without the mark their
    iterations would silently overwrite each other's snapshots, reward models and policies. The
    mark is the project's id, name and creation time; a directory marked by another project raises
    DomainError naming both.
    """
    directory = Path(settings.ARTIFACT_ROOT) / str(project.pk)
    directory.mkdir(parents=True, exist_ok=True)
    mark = {"project_id": project.pk, "name": project.name, "created_at": project.created_at.isoformat()}
    owner_file = directory / OWNER_FILE
    try:
        owner = json.loads(owner_file.read_text())
    except FileNotFoundError:
        # written whole or not at all: a half-written mark would lock the project out
        partial = owner_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(mark, indent=1))
        os.replace(partial, owner_file)
        return directory
    except json.JSONDecodeError:
        owner = {}
    if owner.get("created_at") != mark["created_at"]:
        raise DomainError(
            f"{directory} holds the artifacts of another project #{owner.get('project_id', project.pk)} "
            f"({owner.get('name', 'unreadable ' + OWNER_FILE)!r}, created {owner.get('created_at', '?')}), "
            "probably of another database: give each database its own ARTIFACT_ROOT."
        )
    return directory


def prompt_payload(prompt: Prompt):
    """A prompt in TRL's formats: a message list for a conversation, else plain text."""
    return prompt.messages if prompt.messages else prompt.text


def completion_payload(prompt: Prompt, text: str):
    """A completion matching its prompt's format (an assistant turn for a conversation)."""
    return [{"role": "assistant", "content": text}] if prompt.messages else text


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    data = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    path.write_text(data, encoding="utf-8")
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _pair_rows(project) -> tuple[list[dict], list[dict]]:
    pairs = sorted(consensus_pairs(project=project),
                   key=lambda p: (p.task_id, p.chosen_response_id, p.rejected_response_id))
    response_ids = {p.chosen_response_id for p in pairs} | {p.rejected_response_id for p in pairs}
    texts = dict(Response.objects.filter(pk__in=response_ids).values_list("pk", "text"))
    prompts = Prompt.objects.in_bulk({p.prompt_id for p in pairs})
    hold_out = len(pairs) >= MIN_PAIRS_FOR_EVAL_SPLIT
    train, evaluation = [], []
    for pair in pairs:
        prompt = prompts[pair.prompt_id]
        row = {
            "prompt": prompt_payload(prompt),
            "chosen": completion_payload(prompt, texts[pair.chosen_response_id]),
            "rejected": completion_payload(prompt, texts[pair.rejected_response_id]),
            "margin": float(pair.margin),
            "task_id": pair.task_id,
        }
        (evaluation if hold_out and pair.task_id % EVAL_EVERY == 0 else train).append(row)
    return train, evaluation


def _demonstration_rows(project) -> list[dict]:
    demonstrations = (
        Response.objects.filter(prompt__project=project, source=Response.Source.HUMAN)
        .select_related("prompt")
        .order_by("pk")
    )
    return [
        {"prompt": prompt_payload(d.prompt), "completion": completion_payload(d.prompt, d.text), "id": d.pk}
        for d in demonstrations
    ]


def _prompt_rows(project, split: str) -> list[dict]:
    prompts = Prompt.objects.filter(project=project, split=split).order_by("pk")[:MAX_PROMPTS]
    return [{"prompt": prompt_payload(p), "id": p.pk} for p in prompts]


def dataset_snapshot_write(*, iteration: Iteration) -> Snapshot:
    """Exports the iteration's training data to versioned JSONL files and returns their summary.

    Idempotent: a re-run rewrites the same directory. Raises DomainError when there are too few
    consensus pairs to train on, or when the project's artifact directory belongs to another
    project (`project_artifacts_claim`).
    """
    project = iteration.project
    # Taken before reading the pairs: a judgement arriving meanwhile is counted again next time,
    # never skipped.
    watermark = Judgement.objects.filter(project=project).aggregate(m=Max("pk"))["m"] or 0
    train_pairs, eval_pairs = _pair_rows(project)
    if len(train_pairs) + len(eval_pairs) < MIN_PAIRS:
        raise DomainError(
            f"Only {len(train_pairs) + len(eval_pairs)} consensus pairs; at least {MIN_PAIRS} are needed "
            "to train a reward model. Judge more training tasks first."
        )
    project_artifacts_claim(project)
    directory = iteration_directory(iteration) / "snapshot"
    directory.mkdir(parents=True, exist_ok=True)
    demonstrations = _demonstration_rows(project)
    train_prompts = _prompt_rows(project, Prompt.Split.TRAIN)
    eval_prompts = _prompt_rows(project, Prompt.Split.EVAL)
    hashes = {
        "pairs_train.jsonl": _write_jsonl(directory / "pairs_train.jsonl", train_pairs),
        "pairs_eval.jsonl": _write_jsonl(directory / "pairs_eval.jsonl", eval_pairs),
        "demos.jsonl": _write_jsonl(directory / "demos.jsonl", demonstrations),
        "prompts.jsonl": _write_jsonl(directory / "prompts.jsonl", train_prompts),
        "eval_prompts.jsonl": _write_jsonl(directory / "eval_prompts.jsonl", eval_prompts),
    }
    dataset_hash = hashlib.sha256("".join(f"{name}:{hashes[name]}\n" for name in FILES).encode()).hexdigest()
    snapshot = Snapshot(
        directory=str(directory),
        dataset_hash=dataset_hash,
        demonstrations_hash=hashes["demos.jsonl"] if demonstrations else "",
        judgement_watermark=watermark,
        n_pairs_train=len(train_pairs),
        n_pairs_eval=len(eval_pairs),
        n_demonstrations=len(demonstrations),
        n_prompts=len(train_prompts),
        n_eval_prompts=len(eval_prompts),
    )
    manifest = {**snapshot.as_metrics(), "files": hashes, "iteration": iteration.number, "project": project.pk}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    Iteration.objects.filter(pk=iteration.pk).update(dataset_hash=dataset_hash)
    return snapshot

"""Several processes (`accelerate launch`, torchrun): who this process is, and the few collectives
the commands need.

Every command runs unchanged in one process; under a launcher each process (rank) runs the same
command. TRL's trainers then wrap the model in DDP/FSDP/DeepSpeed themselves; our code only has
to (a) let rank 0 alone write outputs and stdout, (b) split its own evaluation work by rank and
reduce the results, and (c) reach every collective on every rank, in the same order.

The launcher tells a process its place through the environment (`RANK`, `WORLD_SIZE`,
`LOCAL_RANK`); nothing here reads anything else. Without those variables every helper is the
single-process identity (rank 0 of 1), so library callers and tests need no process group.

Test hook: when `PREFLOOP_DEBUG_RANK_DIR` is set, `write_rank_debug` writes one JSON file per rank
there (parameter checksum, what the rank saw). It exists for tests/training/test_distributed.py;
it is not a user option and changes nothing else.
"""
from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

DEBUG_RANK_DIR_ENV = "PREFLOOP_DEBUG_RANK_DIR"

T = TypeVar("T")


def world_size() -> int:
    """How many processes run this command (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank, 0 .. world_size() - 1."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank on its machine (which GPU it drives)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_distributed() -> bool:
    return world_size() > 1


def is_main_process() -> bool:
    """Rank 0: the one process that writes outputs, prints the final JSON line and progress."""
    return rank() == 0


def setup(device: str = "auto") -> None:
    """Join the process group when launched with several processes (no-op otherwise).

    Goes through accelerate's `PartialState`, which TRL's trainers use too, so both share one
    group: gloo when the command runs on CPU (`--device cpu`, or no CUDA device), NCCL on CUDA,
    where it also selects this process's GPU (LOCAL_RANK), so `torch.device("cuda")` means it."""
    if not is_distributed():
        return
    import torch
    from accelerate import PartialState

    on_cpu = device == "cpu" or not torch.cuda.is_available()
    PartialState(cpu=on_cpu)


def teardown() -> None:
    """Wait for every rank, then leave the process group (no-op when none was joined)."""
    if not is_distributed():
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _group_ready() -> bool:
    if not is_distributed():
        return False
    import torch.distributed as dist

    if not dist.is_initialized():
        setup()
    return True


def _reduce_device():
    """NCCL reduces CUDA tensors only; gloo reduces CPU tensors."""
    import torch
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    """Wait until every rank got here (no-op in one process)."""
    if _group_ready():
        import torch.distributed as dist

        dist.barrier()


def all_reduce_sum(values: Sequence[float]) -> list[float]:
    """Element-wise sum over ranks of a list of floats (same length on every rank), in float64."""
    if not _group_ready():
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.cpu().tolist()


def all_reduce_mean(values: Sequence[float]) -> list[float]:
    """Element-wise mean over ranks (each rank weighs the same: use it for equal-sized shards)."""
    size = world_size()
    return [v / size for v in all_reduce_sum(values)]


def all_reduce_tensor(tensor, op: str = "mean"):
    """A tensor summed ("sum") or averaged ("mean") over ranks; returns a new tensor on the input's
    device and dtype, the input unchanged."""
    if not _group_ready():
        return tensor.clone()
    import torch.distributed as dist

    reduced = tensor.detach().to(device=_reduce_device(), dtype=tensor.dtype).clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    if op == "mean":
        reduced = reduced / world_size()
    elif op != "sum":
        raise ValueError(f"op must be 'sum' or 'mean', not {op!r}")
    return reduced.to(tensor.device)


def shard_indices(count: int) -> list[int]:
    """The indices of `count` items that this rank handles: rank, rank + W, rank + 2W, ...
    (strided, so every rank gets a similar mix of a file that is sorted by anything)."""
    return list(range(rank(), count, world_size()))


def shard(items: Sequence[T]) -> list[T]:
    """This rank's share of `items` (all of them in one process)."""
    return [items[i] for i in shard_indices(len(items))]


def gather_shards(local: Sequence[T], count: int) -> list[T]:
    """The inverse of `shard`: every rank passes the results of its share, in order, and gets the
    `count` results of all ranks back in the original item order. Values must be picklable."""
    if not _group_ready():
        return list(local)
    import torch.distributed as dist

    gathered: list = [None] * world_size()
    dist.all_gather_object(gathered, list(local))
    result: list = [None] * count
    for source_rank, values in enumerate(gathered):
        for index, value in zip(range(source_rank, count, world_size()), values):
            result[index] = value
    return result


def map_sharded(function: Callable[[list[T]], list], items: Sequence[T]) -> list:
    """`function(items)` computed by splitting `items` over the ranks and gathering the results
    (one list entry per item, in order). Every rank must call it with the same items."""
    return gather_shards(function(shard(items)), len(items))


def main_process_only(function: Callable[..., T]) -> Callable[..., T | None]:
    """Wrap `function` so that it runs on rank 0 only (and returns None elsewhere): for writing
    output files, the final JSON line and progress events exactly once."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if is_main_process():
            return function(*args, **kwargs)
        return None

    return wrapper


def parameter_checksum(module) -> str:
    """sha256 over every parameter's bytes, in name order: equal on two ranks exactly when their
    parameters are bit-for-bit equal."""
    import hashlib

    digest = hashlib.sha256()
    for name, parameter in sorted(module.named_parameters(), key=lambda item: item[0]):
        digest.update(name.encode())
        digest.update(parameter.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write_rank_debug(command: str, record: dict) -> None:
    """Test hook: with PREFLOOP_DEBUG_RANK_DIR set, write `record` (plus rank and world size) to
    `<dir>/<command>-rank<R>.json`. Does nothing when the variable is unset."""
    directory = os.environ.get(DEBUG_RANK_DIR_ENV)
    if not directory:
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    payload = {"rank": rank(), "world_size": world_size(), **record}
    (Path(directory) / f"{command}-rank{rank()}.json").write_text(json.dumps(payload, indent=2, default=str))


def debug_recording(trainer, key: str) -> list | None:
    """Test hook: with PREFLOOP_DEBUG_RANK_DIR set, record `example[key]` of every example this
    rank's training batches were collated from (returns the list it fills); None otherwise."""
    if not os.environ.get(DEBUG_RANK_DIR_ENV):
        return None
    seen: list = []
    collate = trainer.data_collator

    def recording_collator(examples):
        seen.extend(example[key] for example in examples)
        return collate(examples)

    trainer.data_collator = recording_collator
    return seen


def is_sharded(trainer) -> bool:
    """Whether a transformers Trainer shards the weights over ranks (FSDP, DeepSpeed): then its
    `model` holds only this rank's part, and saving needs the gathered state dict."""
    return bool(getattr(trainer, "is_fsdp_enabled", False) or getattr(trainer, "is_deepspeed_enabled", False))


def trainer_state_dict(trainer):
    """The full state dict of a sharded trainer's model, gathered on rank 0 (a collective: call it
    on every rank); None when every rank holds all weights (one process, DDP), where
    `save_pretrained` reads the model itself."""
    if not is_sharded(trainer):
        return None
    return trainer.accelerator.get_state_dict(trainer.model_wrapped)

"""Fixtures of the training tests: one tiny policy built once per run, synthetic preference data."""
import json
import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ANIMALS = "cat dog bird fish horse rabbit fox owl bear mouse".split()
FOODS = "bread soup rice apples cheese tea pasta beans honey cake".split()
NAMES = "Anna Ben Clara David Emma Felix Grace Hugo".split()
PLACES = ["park", "river", "garden", "market"]
QUESTIONS = ["Tell me something.", "What happened today?", "Write a sentence.", "Say something nice."]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Train on one thread. On this shared 2-core machine two OpenMP threads spin against other
    processes: a tiny-model step measured 1.07 s on 2 threads vs 0.10 s on 1 under load."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_policy_dir(tmp_path_factory):
    """A tiny Llama-style policy pretrained on the shipped corpus (about 5 s)."""
    from training.configs import TinyModelConfig
    from training.tiny_model import build_tiny_model

    import torch

    output = tmp_path_factory.mktemp("tiny-policy")
    torch.set_num_threads(1)  # session fixtures may run before the module one
    build_tiny_model(TinyModelConfig(output=str(output), pretrain_steps=200, device="cpu"))
    return output


def synthetic_pairs(count: int, seed: int) -> list[dict]:
    """Pairs where a sentence about an animal always beats a sentence about food."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        name, place = rng.choice(NAMES), rng.choice(PLACES)
        pairs.append({
            "prompt": [{"role": "user", "content": rng.choice(QUESTIONS)}],
            "chosen": f"{name} saw a {rng.choice(ANIMALS)} near the {place}.",
            "rejected": f"{name} ate some {rng.choice(FOODS)} at the {rng.choice(PLACES)}.",
        })
    return pairs


def write_jsonl(path, rows) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return str(path)


@pytest.fixture
def synthetic_pair_files(tmp_path):
    """(train.jsonl, eval.jsonl): 160 training and 80 held-out synthetic pairs."""
    return (write_jsonl(tmp_path / "train.jsonl", synthetic_pairs(160, seed=1)),
            write_jsonl(tmp_path / "eval.jsonl", synthetic_pairs(80, seed=2)))

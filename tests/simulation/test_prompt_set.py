"""The prompt set written for the real-model demo: well-formed, varied, and readable by training/."""
import json
from collections import Counter
from pathlib import Path

from training.data import read_prompts

PROMPTS = Path(__file__).resolve().parents[2] / "simulation" / "prompts" / "assistant-prompts.jsonl"
KINDS = {"advice", "explanation", "coding", "writing", "factual", "unsafe"}


def test_the_prompt_set_has_150_or_more_prompts_of_every_kind_with_multi_turn_ones():
    rows = [json.loads(line) for line in PROMPTS.read_text(encoding="utf-8").splitlines()]

    assert len(rows) >= 150
    assert len({row["id"] for row in rows}) == len(rows)
    kinds = Counter(row["kind"] for row in rows)
    assert set(kinds) == KINDS and min(kinds.values()) >= 20
    multi_turn = [row for row in rows if isinstance(row["prompt"], list)]
    assert {row["kind"] for row in multi_turn} == KINDS
    for row in multi_turn:
        roles = [turn["role"] for turn in row["prompt"]]
        assert roles[-1] == "user" and all(a != b for a, b in zip(roles, roles[1:])), row["id"]
    assert any("neighbor's wifi" in str(row["prompt"]) for row in rows if row["kind"] == "unsafe")


def test_training_reads_the_prompt_set_as_prompts():
    prompts = read_prompts(PROMPTS)

    assert len(prompts) >= 150 and prompts[0].id == "advice-01"

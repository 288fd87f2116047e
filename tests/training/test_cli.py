"""The command line contract the workers rely on: exit codes, one-line errors naming file:line,
JSON progress events on stdout and a final metrics object as the last stdout line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import synthetic_pairs, write_jsonl
from .helpers import assert_hf_model_dir, changed_tensors

REPOSITORY = Path(__file__).resolve().parents[2]


def run_cli(*arguments, timeout=600):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                   "OMP_NUM_THREADS": "1"}  # see one_torch_thread in conftest.py
    return subprocess.run([sys.executable, "-m", "training", *map(str, arguments)], cwd=REPOSITORY, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def parse_stdout(stdout: str) -> tuple[list[dict], dict]:
    lines = [json.loads(line) for line in stdout.strip().splitlines()]
    return lines[:-1], lines[-1]


def test_a_malformed_data_file_gives_one_line_naming_file_and_line(tiny_policy_dir, tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "chosen": "b"\n')
    completed = run_cli("reward", "--base-model", tiny_policy_dir, "--train", bad, "--output", tmp_path / "rm")
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"error: {bad}:2: not valid JSON (Expecting ',' delimiter)"
    assert completed.stdout == ""


def test_bad_arguments_exit_2_without_a_traceback(tmp_path):
    missing = run_cli("ppo", "--policy", tmp_path / "nowhere", "--reward-model", tmp_path, "--prompts", tmp_path / "p.jsonl",
                      "--output", tmp_path / "out")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: --policy: no such model directory: {tmp_path / 'nowhere'}"
    wrong_type = run_cli("generate", "--policy", tmp_path, "--prompts", "x", "--output", "y", "--n", "many")
    assert wrong_type.returncode == 2 and "invalid int value: 'many'" in wrong_type.stderr
    assert "Traceback" not in missing.stderr + wrong_type.stderr


@pytest.mark.parametrize("command, abbreviation", [
    ("dpo", "--ev"), ("ppo", "--ref"), ("reward", "--out"), ("generate", "--model-n"), ("sft", "--progress"),
])
def test_an_abbreviated_flag_is_not_taken_for_a_longer_one(tmp_path, capsys, command, abbreviation):
    """Workers pass hyperparameters as flags: a prefix must not reach a flag they set themselves."""
    from dataclasses import MISSING, fields

    from training.__main__ import build_parser, main
    from training.configs import COMMAND_CONFIGS
    from training.errors import TrainingUserError

    required = [argument for field in fields(COMMAND_CONFIGS[command]) if field.default is MISSING
                for argument in ("--" + field.name.replace("_", "-"), "x")]
    with pytest.raises(TrainingUserError, match=f"unrecognized arguments: {abbreviation}"):
        build_parser().parse_args([command, *required, abbreviation, "/etc/passwd"])
    train = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(2, seed=1))
    assert main(["dpo", "--policy", str(tmp_path), "--train", str(train), "--output", str(tmp_path / "out"),
                 "--ev", "/etc/passwd"]) == 2
    assert "unrecognized arguments: --ev" in capsys.readouterr().err


@pytest.mark.slow
def test_dpo_streams_progress_events_then_final_metrics(tiny_policy_dir, tmp_path):
    pairs = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(16, seed=3))
    completed = run_cli("dpo", "--policy", tiny_policy_dir, "--train", pairs, "--output", tmp_path / "dpo",
                        "--max-steps", 3, "--batch-size", 4, "--logging-steps", 1, "--lr", 1e-3, "--device", "cpu",
                        "--seed", 5, "--progress-json")
    assert completed.returncode == 0, completed.stderr[-2000:]
    events, final = parse_stdout(completed.stdout)
    assert [e["step"] for e in events if "loss" in e["metrics"]] == [1, 2, 3]
    assert all(e["event"] == "progress" and 0 <= e["progress"] <= 1 and e["total"] == 3 for e in events)
    assert "event" not in final and final["train_pairs"] == 16
    assert_hf_model_dir(tmp_path / "dpo")
    assert json.loads((tmp_path / "dpo" / "training_config.json").read_text())["seed"] == 5


@pytest.mark.slow
def test_reward_then_ppo_then_score_through_the_cli(tiny_policy_dir, tmp_path):
    pairs = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(16, seed=4))
    reward = run_cli("reward", "--base-model", tiny_policy_dir, "--train", pairs, "--output", tmp_path / "rm",
                     "--max-steps", 2, "--batch-size", 8, "--lr", 1e-3, "--device", "cpu")
    assert reward.returncode == 0, reward.stderr[-2000:]
    assert "eval_accuracy" not in json.loads(reward.stdout.strip().splitlines()[-1])  # no --eval: train metrics

    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": [{"role": "user", "content": "Hi"}], "id": 1},
                                                       {"prompt": "Anna walks to", "id": "b"}])
    ppo = run_cli("ppo", "--policy", tiny_policy_dir, "--reward-model", tmp_path / "rm", "--prompts", prompts,
                  "--output", tmp_path / "ppo", "--steps", 2, "--batch-size", 4, "--minibatch-size", 2, "--ppo-epochs", 1,
                  "--max-new-tokens", 8, "--lr", 1e-4, "--device", "cpu", "--progress-json")
    assert ppo.returncode == 0, ppo.stderr[-2000:]
    events, final = parse_stdout(ppo.stdout)
    assert [e["step"] for e in events] == [1, 2]
    for key in ("reward_mean", "kl", "entropy", "response_length", "value_loss", "clip_fraction", "kl_coef"):
        assert key in events[-1]["metrics"]
    assert {"kl", "reward_mean"} <= final.keys()
    saved = json.loads((tmp_path / "ppo" / "metrics.json").read_text())
    assert len(saved["history"]["reward_mean"]) == 2 and len(saved["history"]["kl"]) == 2
    assert (tmp_path / "ppo" / "value_head.safetensors").is_file()
    assert_hf_model_dir(tmp_path / "ppo")
    assert changed_tensors(tiny_policy_dir, tmp_path / "ppo")  # PPO moved the policy

    responses = write_jsonl(tmp_path / "responses.jsonl", [{"prompt": "Hi", "response": "Anna saw a cat.", "id": 9}])
    score = run_cli("score", "--reward-model", tmp_path / "rm", "--data", responses, "--output", tmp_path / "scored.jsonl")
    assert score.returncode == 0, score.stderr[-2000:]
    [row] = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert row["id"] == 9 and isinstance(row["reward"], float) and row["reward_std"] == 0.0

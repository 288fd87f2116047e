"""Every trainer under `accelerate launch` with 2 CPU processes (gloo), on the tiny models.

Each launch costs mostly imports (~10-30 s on the shared 2-core machine), so one launch per
command carries all of its checks. The commands write per-rank records through the test hook
PREFLOOP_DEBUG_RANK_DIR (training/distributed.py): the parameter checksum after training, which
prompts or pairs the rank saw, and the rank's own sums behind the reduced metrics.
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import synthetic_pairs, write_jsonl
from .helpers import assert_hf_model_dir, changed_tensors

ACCELERATE_DIR = Path(__file__).resolve().parents[2] / "training" / "accelerate"
PROCESSES = 2


def _free_port() -> int:
    """Other test runs on this machine may launch too: never rely on torchrun's default port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(command: str, options: list[str], work_dir: Path) -> dict:
    """Runs `accelerate launch --num_processes 2 -m training COMMAND ... --progress-json` on CPU.

    On a machine without CUDA `--multi_gpu` starts the processes through torchrun and they join
    a gloo group (`--cpu` would start a single process unless MPI is installed)."""
    debug_dir = work_dir / f"ranks-{command}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "TRL_EXPERIMENTAL_SILENCE": "1", "PREFLOOP_DEBUG_RANK_DIR": str(debug_dir), "CUDA_VISIBLE_DEVICES": ""}
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(PROCESSES),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(_free_port()), "-m", "training", command, *options,
            "--device", "cpu", "--progress-json"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    ranks = [json.loads((debug_dir / f"{command}-rank{r}.json").read_text()) for r in range(PROCESSES)]
    return {"lines": lines, "ranks": ranks}


def assert_one_process_reported(run: dict, output: Path, *, merged: bool = True) -> dict:
    """One final JSON line (the last), progress events once per step, parameters equal on both
    ranks, one output directory written by rank 0 alone and holding the same final metrics
    (complete HF weights unless `merged` is False: an adapter-only directory)."""
    lines, ranks = run["lines"], run["ranks"]
    finals = [line for line in lines if "event" not in line]
    assert len(finals) == 1 and "event" not in lines[-1]
    # TRL trainers also report their end-of-training summary (train_loss) under the last step
    events = [(line["step"], "train_loss" in line["metrics"]) for line in lines if line.get("event") == "progress"]
    assert events and len(events) == len(set(events)), f"progress events came from several ranks: {events}"
    assert [r["rank"] for r in ranks] == [0, 1] and all(r["world_size"] == PROCESSES for r in ranks)
    assert ranks[0]["checksum"] == ranks[1]["checksum"], "the ranks ended with different parameters"
    assert [r["wrote_output"] for r in ranks] == [True, False]
    if merged:
        assert_hf_model_dir(output)
    assert (output / "metrics.json").is_file() and (output / "training_config.json").is_file()
    assert json.loads((output / "training_config.json").read_text())["processes"] == PROCESSES
    assert not (output / "trainer-state").exists()
    saved = json.loads((output / "metrics.json").read_text())
    assert {key: saved[key] for key in finals[0]} == finals[0]
    return finals[0]


@pytest.fixture(scope="module")
def tiny_reward_dir(tiny_policy_dir, tmp_path_factory):
    """A reward model on the tiny backbone (one process, a few steps)."""
    from training.configs import RewardConfig
    from training.reward import train_reward_model_from_files

    output = tmp_path_factory.mktemp("tiny-reward")
    train = write_jsonl(output.parent / "tiny-reward-pairs.jsonl", synthetic_pairs(16, seed=5))
    train_reward_model_from_files(RewardConfig(base_model=str(tiny_policy_dir), train=train, output=str(output),
                                               max_steps=2, batch_size=4, device="cpu", precision="fp32"))
    return output


def distinct_pairs(count: int, seed: int) -> list[dict]:
    """Synthetic pairs whose chosen texts are all different (so the ranks' shares can be told apart)."""
    rows = synthetic_pairs(count, seed)
    for index, row in enumerate(rows):
        row["chosen"] = f"{row['chosen']} Number {index}."
    return rows


def test_ppo_under_two_processes_shares_prompts_averages_gradients_and_reduces_metrics(
        tiny_policy_dir, tiny_reward_dir, tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": row["prompt"][0]["content"] + f" ({i})"}
                                                       for i, row in enumerate(synthetic_pairs(12, seed=3))])
    output = tmp_path / "ppo"
    run = launch("ppo", ["--policy", str(tiny_policy_dir), "--reward-model", str(tiny_reward_dir),
                         "--prompts", prompts, "--output", str(output), "--steps", "2", "--batch-size", "4",
                         "--minibatch-size", "2", "--max-new-tokens", "6", "--seed", "3"], tmp_path)
    final = assert_one_process_reported(run, output)
    assert (output / "value_head.safetensors").is_file()
    assert changed_tensors(tiny_policy_dir, output), "one PPO step changed nothing"

    # each rank rolled out from its own share of the prompts (strided by rank), batch / 2 per step
    seen = [set(rank["prompt_indices"]) for rank in run["ranks"]]
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert all(index % PROCESSES == r for r, indices in enumerate(seen) for index in indices)
    assert all(len(rank["prompt_indices"]) == 2 * 2 for rank in run["ranks"])  # 2 steps x 2 rollouts

    # the metrics are the reductions of both ranks' sums, and the KL controller saw the global KL
    last = [rank["local_history"][-1] for rank in run["ranks"]]
    rollouts = sum(step["rollouts"] for step in last)
    assert rollouts == 4
    assert final["reward_mean"] == round(sum(step["raw_score_sum"] for step in last) / rollouts, 4)
    assert final["kl"] == round(sum(step["kl_sum"] for step in last) / rollouts, 4)
    assert final["response_length"] == round(sum(step["tokens"] for step in last) / rollouts, 2)
    assert final["entropy"] == round(sum(step["entropy_sum"] for step in last) / sum(step["tokens"] for step in last), 4)
    assert final["rollouts"] == 8
    first = [rank["local_history"][0] for rank in run["ranks"]]
    global_kl = sum(step["kl_sum"] for step in first) / 4
    expected_coef = 0.2 * (1 + min(max(global_kl / 6.0 - 1, -0.2), 0.2) * 4 / 10000)  # PPOConfig defaults
    history = json.loads((output / "metrics.json").read_text())["history"]
    assert history["kl_coef"][1] == round(expected_coef, 5)


def test_dpo_under_two_processes_splits_the_pairs_and_reduces_the_margins(tiny_policy_dir, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", distinct_pairs(16, seed=1))
    output = tmp_path / "dpo"
    run = launch("dpo", ["--policy", str(tiny_policy_dir), "--train", train, "--output", str(output),
                         "--max-steps", "1", "--batch-size", "2", "--precision", "fp32"], tmp_path)
    final = assert_one_process_reported(run, output)
    assert changed_tensors(tiny_policy_dir, output), "one DPO step changed nothing"

    chosen = [{tuple(ids) for ids in rank["chosen_ids"]} for rank in run["ranks"]]
    assert chosen[0] and chosen[1] and not chosen[0] & chosen[1], "both ranks trained on the same pairs"

    # each rank measured half of the pairs; the metrics are over all 16
    margins = [rank["margins"] for rank in run["ranks"]]
    assert [len(m) for m in margins] == [8, 8]
    everything = margins[0] + margins[1]
    assert final["train_n"] == 16
    assert final["train_margin"] == round(sum(everything) / 16, 4)
    assert final["train_accuracy"] == round(sum(m > 0 for m in everything) / 16, 4)


def test_lora_ppo_under_two_processes_keeps_the_adapters_off_reference_and_syncs_the_adapters(
        tiny_policy_dir, tiny_reward_dir, tmp_path):
    from .test_lora import assert_adapter_only_dir

    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": row["prompt"][0]["content"] + f" ({i})"}
                                                       for i, row in enumerate(synthetic_pairs(8, seed=3))])
    output = tmp_path / "ppo-lora"
    run = launch("ppo", ["--policy", str(tiny_policy_dir), "--reward-model", str(tiny_reward_dir),
                         "--prompts", prompts, "--output", str(output), "--steps", "2", "--batch-size", "4",
                         "--minibatch-size", "2", "--max-new-tokens", "6", "--lr", "1e-2", "--lora-r", "4",
                         "--lora-alpha", "8", "--lora-dropout", "0", "--save-adapter-only"], tmp_path)
    # different rollouts on each rank, yet equal adapters and value head: DDP averaged their gradients
    final = assert_one_process_reported(run, output, merged=False)
    seen = [set(rank["prompt_indices"]) for rank in run["ranks"]]
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert_adapter_only_dir(output, tiny_policy_dir)
    assert (output / "value_head.safetensors").is_file()
    kl = json.loads((output / "metrics.json").read_text())["history"]["kl"]
    assert kl[0] == 0.0  # zero-initialised adapters: the policy equals its adapters-off reference
    assert kl[1] != 0.0  # after an update the adapters moved away from it
    assert 0 < final["trainable_parameters"] < 20_000


def test_lora_dpo_under_two_processes_saves_merged_weights_once(tiny_policy_dir, tmp_path):
    from .test_lora import assert_only_adapted_layers_changed

    train = write_jsonl(tmp_path / "train.jsonl", distinct_pairs(8, seed=2))
    output = tmp_path / "dpo-lora"
    run = launch("dpo", ["--policy", str(tiny_policy_dir), "--train", train, "--output", str(output),
                         "--max-steps", "1", "--batch-size", "2", "--lr", "1e-2", "--precision", "fp32",
                         "--lora-r", "4", "--lora-alpha", "8", "--lora-dropout", "0"], tmp_path)
    final = assert_one_process_reported(run, output)
    assert_only_adapted_layers_changed(tiny_policy_dir, output)
    margins = [rank["margins"] for rank in run["ranks"]]
    assert [len(m) for m in margins] == [4, 4] and final["train_n"] == 8
    assert final["train_margin"] == round(sum(margins[0] + margins[1]) / 8, 4)


def test_reward_under_two_processes(tiny_policy_dir, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", distinct_pairs(16, seed=1))
    output = tmp_path / "reward"
    run = launch("reward", ["--base-model", str(tiny_policy_dir), "--train", train, "--output", str(output),
                            "--max-steps", "1", "--batch-size", "2", "--precision", "fp32"], tmp_path)
    final = assert_one_process_reported(run, output)
    assert final["train_n"] == 16  # evaluated over both ranks' halves
    chosen = [{tuple(ids) for ids in rank["chosen_ids"]} for rank in run["ranks"]]
    assert chosen[0] and chosen[1] and not chosen[0] & chosen[1]


def test_sft_under_two_processes(tiny_policy_dir, tmp_path):
    demos = write_jsonl(tmp_path / "demos.jsonl", [{"prompt": row["prompt"], "completion": row["chosen"]}
                                                   for row in synthetic_pairs(8, seed=4)])
    output = tmp_path / "sft"
    run = launch("sft", ["--base-model", str(tiny_policy_dir), "--train", demos, "--output", str(output),
                         "--max-steps", "1", "--batch-size", "2", "--precision", "fp32"], tmp_path)
    assert_one_process_reported(run, output)


def test_rloo_under_two_processes(tiny_policy_dir, tiny_reward_dir, tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": row["prompt"]} for row in synthetic_pairs(8, seed=6)])
    output = tmp_path / "rloo"
    run = launch("rloo", ["--policy", str(tiny_policy_dir), "--reward-model", str(tiny_reward_dir),
                          "--prompts", prompts, "--output", str(output), "--steps", "1", "--batch-size", "2",
                          "--num-generations", "2", "--max-new-tokens", "6", "--precision", "fp32"], tmp_path)
    assert_one_process_reported(run, output)


# ----------------------------------------------------------------------------- shipped configs
def _launch_settings(config_file: Path):
    """What `accelerate launch --config_file FILE` makes of the file (accelerate's own parsing)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(config_file), "-m", "training"])
    args, defaults, _ = _validate_launch_command(args)
    return args, defaults


@pytest.mark.parametrize("name, stage", [("deepspeed-zero2.yaml", 2), ("deepspeed-zero3.yaml", 3)])
def test_the_deepspeed_examples_are_valid_accelerate_configs(name, stage, monkeypatch):
    import yaml
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import DeepSpeedPlugin, DistributedType
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    path = ACCELERATE_DIR / name
    raw = yaml.safe_load(path.read_text())
    config = ClusterConfig.from_yaml_file(str(path))
    assert config.distributed_type == DistributedType.DEEPSPEED and config.mixed_precision == "bf16"
    args, defaults = _launch_settings(path)
    assert args.use_deepspeed and args.num_processes == 2
    # every key under deepspeed_config is a flag accelerate launch knows (a typo would be ignored silently)
    assert set(raw["deepspeed_config"]) <= set(vars(args))
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()  # how each process reads it back (deepspeed itself is not needed for this)
    zero = plugin.deepspeed_config["zero_optimization"]
    assert zero["stage"] == stage and plugin.zero_stage == stage
    assert zero["offload_optimizer"]["device"] in ("none", "cpu", "nvme")
    assert zero["offload_param"]["device"] in ("none", "cpu", "nvme")
    assert plugin.deepspeed_config["gradient_accumulation_steps"] == 1 and plugin.deepspeed_config["gradient_clipping"] == 1.0
    if stage == 3:  # the output directory needs the full weights gathered at save time
        assert zero["stage3_gather_16bit_weights_on_model_save"] is True


def test_the_fsdp_example_is_a_valid_accelerate_config(monkeypatch):
    import yaml
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    path = ACCELERATE_DIR / "fsdp.yaml"
    raw = yaml.safe_load(path.read_text())
    config = load_config_from_file(str(path))
    assert config.distributed_type == DistributedType.FSDP
    args, _ = _launch_settings(path)
    assert args.use_fsdp and args.num_processes == 2
    assert set(raw["fsdp_config"]) <= set(vars(args))
    env = prepare_multi_gpu_env(args)
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.state_dict_type.name == "FULL_STATE_DICT"
    # the wrapped layer class exists (SmolLM2 and the tiny test model are Llama-family)
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    assert plugin.transformer_cls_names_to_wrap == [LlamaDecoderLayer.__name__]


def test_the_multi_gpu_example_launches_data_parallel_processes():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    path = ACCELERATE_DIR / "multi-gpu.yaml"
    assert load_config_from_file(str(path)).distributed_type == DistributedType.MULTI_GPU
    args, _ = _launch_settings(path)
    assert args.multi_gpu and not args.cpu and args.num_processes == 2


# ----------------------------------------------------------------------------- one process
def test_in_one_process_the_helpers_are_the_identity(monkeypatch):
    from training import distributed

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main_process()) == (0, 1, True)
    assert distributed.shard(list("abcde")) == list("abcde")
    assert distributed.map_sharded(lambda part: [x.upper() for x in part], list("abc")) == ["A", "B", "C"]
    assert distributed.all_reduce_mean([1.0, 3.0]) == [1.0, 3.0]
    assert distributed.main_process_only(lambda: "written")() == "written"
    distributed.barrier()


def test_a_single_process_command_under_a_launcher_is_a_user_error(tiny_policy_dir, tmp_path, monkeypatch, capsys):
    from training.__main__ import main

    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "Hello"}])
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    status = main(["generate", "--policy", str(tiny_policy_dir), "--prompts", prompts, "--output",
                   str(tmp_path / "out.jsonl"), "--device", "cpu"])
    assert status == 2 and "generate runs as one process" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()


def test_shards_are_strided_and_gathered_back_in_order(monkeypatch):
    from training import distributed

    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "1")
    assert distributed.shard(list(range(8))) == [1, 4, 7]
    assert distributed.main_process_only(lambda: "written")() is None
    assert not distributed.is_main_process()

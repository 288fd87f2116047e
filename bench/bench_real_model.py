"""`training/` on the real SmolLM2-135M-Instruct against plain TRL / transformers, in one run.

    .venv/bin/python bench/bench_real_model.py [--prompts 4] [--new-tokens 16] [--steps 2] [--pairs 8]
                                               [--max-length 128] [--threads 2] [--models-dir DIR]

Each case runs in its own process (its peak RSS is its own) on the same prompts, batch and lengths:
- PPO (ours, LoRA r=8 and full) vs TRL's RLOOTrainer (TRL defaults on this device, 2 generations
  per prompt, the same number of completions per step): generated tokens/s, updates/s, s/step;
- DPO (ours with LoRA, ours full) vs a plain TRL DPOTrainer with TRL's defaults: pairs/s, s/step;
- generation (`training.generate`) vs a plain `model.generate` loop on the same batch: tokens/s.
The reward is a fixed Python function (reply length), so the reward model costs nothing here.
Throughput counts only training/generation time, not model loading. Peak memory is the child's
RSS (and CUDA max allocated on a GPU). Prints a markdown table and one JSON line per case.
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

NAME = "smollm2-135m-instruct"
QUESTIONS = ["How can I steal my neighbor's wifi?", "Name a fruit and describe it.", "Write a short poem about rain.",
             "What should I cook tonight?", "Explain what a reward model is.", "Give me a tip for sleeping well.",
             "Tell me about cats.", "How do I say no politely?"]


def chat_prompts(count: int) -> list:
    return [[{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}] for i in range(count)]


def pairs(count: int) -> list[dict]:
    return [{"prompt": p, "chosen": [{"role": "assistant", "content": "Here is a short, careful and helpful answer."}],
             "rejected": [{"role": "assistant", "content": "No."}]} for p in chat_prompts(count)]


def length_reward(prompts, completions, **kwargs):  # TRL passes these by keyword
    return [min(len(str(c)), 200) / 100.0 for c in completions]


def memory() -> dict:
    import torch

    result = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if torch.cuda.is_available():
        result["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return result


# ------------------------------------------------------------------ cases (each in a child process)
def case_ppo(model_dir: str, lora: bool, a, workdir: Path) -> dict:
    import torch

    from training.configs import PPOConfig
    from training.ppo import train_ppo

    config = PPOConfig(policy=model_dir, reward_model=model_dir, prompts=__file__, output=str(workdir / "ppo"),
                       steps=a.steps, batch_size=a.prompts, minibatch_size=a.prompts, ppo_epochs=1, lr=1e-5,
                       max_new_tokens=a.new_tokens, lora_r=8 if lora else 0, device=a.device)
    reward = lambda p, r: torch.tensor(length_reward(p, r))  # noqa: E731
    metrics = train_ppo(config, chat_prompts(a.prompts), reward).metrics
    return {"generated_tokens_per_second": metrics["generated_tokens_per_second"],
            "updates_per_second": metrics["updates_per_second"],
            "seconds_per_step": round(1 / metrics["updates_per_second"], 2), "precision": metrics["precision"]}


def case_trl_rloo(model_dir: str, a, workdir: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import RLOOConfig, RLOOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = RLOOConfig(output_dir=str(workdir / "rloo"), per_device_train_batch_size=a.prompts, num_generations=2,
                      max_completion_length=a.new_tokens, max_steps=a.steps, learning_rate=1e-5, report_to="none",
                      save_strategy="no", use_cpu=a.device == "cpu", disable_tqdm=True, logging_steps=1)
    trainer = RLOOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), reward_funcs=[length_reward], args=args,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in chat_prompts(a.prompts)]),
                          processing_class=tokenizer)
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    lengths = [entry["completions/mean_length"] for entry in trainer.state.log_history if "completions/mean_length" in entry]
    tokens = sum(lengths) * a.prompts  # per step: a.prompts completions (a.prompts / 2 prompts x 2 generations)
    return {"generated_tokens_per_second": round(tokens / seconds, 1), "updates_per_second": round(a.steps / seconds, 3),
            "seconds_per_step": round(seconds / a.steps, 2), "precision": "bf16" if args.bf16 else "fp32"}


def case_dpo(model_dir: str, variant: str, a, workdir: Path) -> dict:
    rows = pairs(a.pairs)
    if variant in ("ours-lora", "ours-full"):
        from training.configs import DPOConfig
        from training.data import PreferencePair
        from training.dpo import train_dpo

        config = DPOConfig(policy=model_dir, train=__file__, output=str(workdir / "dpo"), max_steps=a.steps,
                           batch_size=a.pairs // a.steps, lr=1e-5, max_length=a.max_length, logging_steps=1,
                           lora_r=8 if variant == "ours-lora" else 0, device=a.device)
        metrics = train_dpo(config, [PreferencePair(**r) for r in rows], None).metrics
        seconds = metrics["train_seconds"]
        return {"pairs_per_second": round(a.pairs / seconds, 3), "seconds_per_step": round(seconds / a.steps, 2),
                "precision": metrics["precision"]}
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig as TRLDPOConfig
    from trl import DPOTrainer

    args = TRLDPOConfig(output_dir=str(workdir / "trl"), per_device_train_batch_size=a.pairs // a.steps,
                        max_steps=a.steps, learning_rate=1e-5, max_length=a.max_length, report_to="none",
                        save_strategy="no", use_cpu=a.device == "cpu", disable_tqdm=True, logging_steps=1)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), args=args,
                         train_dataset=Dataset.from_list(rows), processing_class=AutoTokenizer.from_pretrained(model_dir))
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    return {"pairs_per_second": round(a.pairs / seconds, 3), "seconds_per_step": round(seconds / a.steps, 2),
            "precision": "bf16" if args.bf16 else "fp32"}


def case_generate(model_dir: str, variant: str, a, workdir: Path) -> dict:
    import torch

    from training.configs import GenerateConfig
    from training.data import PromptRow

    if variant == "ours":
        from training.generate import generate_responses

        config = GenerateConfig(policy=model_dir, prompts=__file__, output=str(workdir / "g.jsonl"),
                                max_new_tokens=a.new_tokens, batch_size=a.prompts, device=a.device)
        rows_in = [PromptRow(prompt=p, id=i) for i, p in enumerate(chat_prompts(a.prompts))]
        import training.runtime as runtime

        tokenizer = runtime.load_tokenizer(model_dir)
        loading = []  # seconds spent loading, subtracted: the plain loop gets a loaded model too

        def timed(load):
            def wrapper(*args, **kwargs):
                began = time.monotonic()
                result = load(*args, **kwargs)
                loading.append(time.monotonic() - began)
                return result
            return wrapper

        runtime.load_causal_lm, runtime.load_tokenizer = timed(runtime.load_causal_lm), timed(runtime.load_tokenizer)
        started = time.monotonic()
        rows = generate_responses(config, rows_in)
        seconds = time.monotonic() - started - sum(loading)
        tokens = sum(len(tokenizer(r["response"], add_special_tokens=False)["input_ids"]) + r["finished"] for r in rows)
        return {"tokens_per_second": round(tokens / seconds, 1), "note": "generate_responses minus model loading"}
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(a.device).eval()
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in chat_prompts(a.prompts)]
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(a.device)
    started = time.monotonic()
    with torch.no_grad():
        output = model.generate(**encoded, do_sample=True, top_k=0, max_new_tokens=a.new_tokens,
                                pad_token_id=tokenizer.pad_token_id)
    seconds = time.monotonic() - started
    generated = output[:, encoded["input_ids"].shape[1]:]
    tokens = 0
    for row in generated.tolist():  # up to and including the first EOS, like ours
        tokens += row.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in row else len(row)
    return {"tokens_per_second": round(tokens / seconds, 1), "note": "generate() only"}


def run_case(a) -> None:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    workdir = Path(tempfile.mkdtemp(prefix="bench-real-"))
    if a.case == "ppo":
        result = case_ppo(a.model, a.variant == "ours-lora", a, workdir)
    elif a.case == "rloo":
        result = case_trl_rloo(a.model, a, workdir)
    elif a.case == "dpo":
        result = case_dpo(a.model, a.variant, a, workdir)
    else:
        result = case_generate(a.model, a.variant, a, workdir)
    print(json.dumps({**result, **memory()}))


# ------------------------------------------------------------------ orchestration
def child(arguments, *extra) -> dict:
    common = ["--prompts", arguments.prompts, "--new-tokens", arguments.new_tokens, "--steps", arguments.steps,
              "--pairs", arguments.pairs, "--max-length", arguments.max_length, "--threads", arguments.threads,
              "--device", arguments.device]
    completed = subprocess.run([sys.executable, __file__, "--child", *map(str, extra), *map(str, common)],
                               capture_output=True, text=True, cwd=REPOSITORY)
    if completed.returncode != 0:
        return {"error": completed.stderr.strip().splitlines()[-1][:200] if completed.stderr.strip() else "failed"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=["ppo", "rloo", "dpo", "generate"])
    parser.add_argument("--variant", default="ours")
    parser.add_argument("--model")
    parser.add_argument("--prompts", type=int, default=4, help="prompts per rollout / generation batch")
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per response")
    parser.add_argument("--steps", type=int, default=2, help="optimisation steps per training case")
    parser.add_argument("--pairs", type=int, default=8, help="DPO pairs (spread over --steps steps)")
    parser.add_argument("--max-length", type=int, default=128, help="DPO tokens per sequence")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models-dir", default=None, help="models cache (default: $PREFLOOP_MODELS_DIR or ~/.cache/prefloop/models)")
    arguments = parser.parse_args()
    if arguments.child:
        return run_case(arguments)

    from training.model_sources import resolve_model_reference

    model_dir = resolve_model_reference(NAME, arguments.models_dir)
    load_before = os.getloadavg()
    started = time.monotonic()
    cases = [("PPO ours, LoRA r=8", "ppo", "ours-lora"), ("PPO ours, full", "ppo", "ours-full"),
             ("RLOO TRL defaults", "rloo", "trl"),
             ("DPO ours, LoRA r=8", "dpo", "ours-lora"), ("DPO ours, full", "dpo", "ours-full"),
             ("DPO TRL defaults", "dpo", "trl"),
             ("generate ours", "generate", "ours"), ("generate plain model.generate", "generate", "plain")]
    print("| case | tokens/s | updates/s | pairs/s | s/step | precision | peak RSS MB | CUDA max alloc MB |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for label, case, variant in cases:
        result = child(arguments, "--case", case, "--variant", variant, "--model", model_dir)
        print(json.dumps({"case": label, **result}), file=sys.stderr, flush=True)
        tokens = result.get("generated_tokens_per_second", result.get("tokens_per_second", ""))
        print(f"| {label} | {tokens} | {result.get('updates_per_second', '')} | {result.get('pairs_per_second', '')} "
              f"| {result.get('seconds_per_step', '')} | {result.get('precision', '')} | {result.get('peak_rss_mb', '')} "
              f"| {result.get('cuda_max_allocated_mb', '')} |" + (f" error: {result['error']}" if "error" in result else ""),
              flush=True)
    print(f"\nload average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"{time.monotonic() - started:.0f} s in all", flush=True)


if __name__ == "__main__":
    main()

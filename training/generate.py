"""Sampling K responses per prompt, optionally with a per-sample KL estimate to a reference."""
from __future__ import annotations

import time

from training.configs import GenerateConfig
from training.data import PromptRow, prompt_text, read_prompts
from training.jsonl import write_jsonl
from training.progress import ProgressCallback


def generate_responses(config: GenerateConfig, prompts: list[PromptRow], on_progress: ProgressCallback | None = None) -> list[dict]:
    """Sample `config.n` responses per prompt. Each row: id, prompt, response, model, finished
    (ended with EOS) and, with a reference, kl = log p_policy(response) - log p_ref(response)
    (a one-sample estimate of the sequence KL, at temperature 1)."""
    import torch

    from training.logprobs import sequence_logprobs
    from training.ppo import truncate_after_eos
    from training.runtime import generation_eos_ids, load_causal_lm, load_tokenizer, resolve_device
    from training.seeding import seed_everything

    seed_everything(config.seed)
    device = resolve_device(config.device)
    tokenizer = load_tokenizer(config.policy, config.models_dir)
    policy = load_causal_lm(config.policy, device, config.models_dir).eval()
    reference = load_causal_lm(config.reference, device, config.models_dir).eval() if config.reference else None
    model_name = config.model_name or config.policy
    eos_ids = generation_eos_ids(policy, tokenizer)
    # left padding: every prompt ends where generation starts; over-long prompts keep their end
    tokenizer.padding_side, tokenizer.truncation_side = "left", "left"
    rows = []
    for start in range(0, len(prompts), config.batch_size):
        batch = prompts[start : start + config.batch_size]
        texts = [prompt_text(p.prompt, tokenizer) for p in batch]
        lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        encoded = tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                            max_length=config.max_prompt_length, add_special_tokens=False).to(device)
        with torch.no_grad():
            generated = policy.generate(
                **encoded, do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=0,
                max_new_tokens=config.max_new_tokens, num_return_sequences=config.n,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=eos_ids,
            )
        prompt_width = encoded["input_ids"].shape[1]
        response_ids, mask, finished = truncate_after_eos(generated[:, prompt_width:], eos_ids, tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(response_ids, skip_special_tokens=True)
        kls = None
        if reference is not None:
            # prompt tokens without padding, response tokens up to and including EOS
            prompt_lists = []
            for row in range(len(batch)):
                ids = encoded["input_ids"][row][encoded["attention_mask"][row].bool()].tolist()
                prompt_lists.extend([ids] * config.n)
            response_lists = [ids[m.bool()].tolist() for ids, m in zip(response_ids, mask)]
            policy_logprobs = sequence_logprobs(policy, prompt_lists, response_lists, tokenizer.pad_token_id, device)
            reference_logprobs = sequence_logprobs(reference, prompt_lists, response_lists, tokenizer.pad_token_id, device)
            kls = [p - r for p, r in zip(policy_logprobs, reference_logprobs)]
        for index, text in enumerate(texts):
            source = batch[index // config.n]
            row = {"id": source.id, "prompt": source.prompt, "response": text, "model": model_name,
                   "sample": index % config.n, "finished": bool(finished[index]),
                   "prompt_truncated": lengths[index // config.n] > config.max_prompt_length}
            if kls is not None:
                row["kl"] = kls[index]
            rows.append(row)
        if on_progress:
            on_progress(min(start + config.batch_size, len(prompts)), len(prompts), {"responses": len(rows)})
    return rows


def generate_command(config: GenerateConfig, on_progress=None) -> dict:
    started = time.monotonic()
    rows = generate_responses(config, read_prompts(config.prompts), on_progress)
    write_jsonl(config.output, rows)
    metrics = {"n": len(rows), "finished_fraction": round(sum(r["finished"] for r in rows) / len(rows), 4),
               "mean_response_chars": round(sum(len(r["response"]) for r in rows) / len(rows), 1),
               "truncated_prompts": sum(r["prompt_truncated"] for r in rows if r["sample"] == 0),
               "seconds": round(time.monotonic() - started, 1), "output": str(config.output)}
    if rows and "kl" in rows[0]:
        metrics["kl_mean"] = round(sum(r["kl"] for r in rows) / len(rows), 4)
    return metrics

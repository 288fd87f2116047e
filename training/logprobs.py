"""Log-probabilities of responses under a causal LM (for DPO margins and generation KL estimates)."""
from __future__ import annotations

from training.data import Text, conversation_text, prompt_text


def encode_prompt_response(tokenizer, prompt: Text, response: Text) -> tuple[list[int], list[int]]:
    """Token ids of the rendered prompt and of the response that follows it (ending with EOS).

    The response ids are the full text's ids after the prompt's when the prompt is a token prefix
    (the usual case); otherwise the response is tokenized on its own.
    """
    rendered_prompt = prompt_text(prompt, tokenizer)
    full = conversation_text(prompt, response, tokenizer)
    prompt_ids = tokenizer(rendered_prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    if full_ids[: len(prompt_ids)] == prompt_ids:
        response_ids = full_ids[len(prompt_ids):]
    else:
        response_ids = tokenizer(full[len(rendered_prompt):], add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in response_ids:
        response_ids = response_ids + [tokenizer.eos_token_id]
    return prompt_ids, response_ids


def sequence_logprobs(model, prompt_ids: list[list[int]], response_ids: list[list[int]], pad_token_id: int,
                      device, batch_size: int = 16) -> list[float]:
    """Sum over each response's tokens of log p(token | prompt, earlier tokens), at temperature 1.

    prompt_ids, response_ids: per example, lists of token ids. Returns one float per example.
    """
    import torch
    import torch.nn.functional as F

    totals = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(prompt_ids), batch_size):
            prompts = prompt_ids[start : start + batch_size]
            responses = response_ids[start : start + batch_size]
            sequences = [p + r for p, r in zip(prompts, responses)]
            width = max(len(s) for s in sequences)
            input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
            attention = torch.zeros((len(sequences), width), dtype=torch.long)
            targets = torch.zeros((len(sequences), width), dtype=torch.bool)
            for row, (p, r) in enumerate(zip(prompts, responses)):
                offset = width - len(p) - len(r)  # left padding
                input_ids[row, offset:] = torch.tensor(p + r)
                attention[row, offset:] = 1
                targets[row, offset + len(p):] = True
            position_ids = (attention.cumsum(dim=1) - 1).clamp(min=0)
            logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                           position_ids=position_ids.to(device), use_cache=False).logits.float().cpu()
            log_probabilities = F.log_softmax(logits[:, :-1], dim=-1)
            token_logprobs = torch.gather(log_probabilities, 2, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            totals.extend((token_logprobs * targets[:, 1:]).sum(dim=1).tolist())
    return totals


def preference_margins(model, tokenizer, pairs, device) -> list[float]:
    """log p(chosen | prompt) - log p(rejected | prompt) for each pair."""
    chosen = [encode_prompt_response(tokenizer, p.prompt, p.chosen) for p in pairs]
    rejected = [encode_prompt_response(tokenizer, p.prompt, p.rejected) for p in pairs]
    chosen_logprobs = sequence_logprobs(model, [c[0] for c in chosen], [c[1] for c in chosen], tokenizer.pad_token_id, device)
    rejected_logprobs = sequence_logprobs(model, [r[0] for r in rejected], [r[1] for r in rejected], tokenizer.pad_token_id, device)
    return [c - r for c, r in zip(chosen_logprobs, rejected_logprobs)]

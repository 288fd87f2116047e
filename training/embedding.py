"""Frozen sentence embeddings: mean-pooled hidden states of an encoder (e.g. MiniLM).

`python -m training embed --model M --data texts.jsonl --output embeddings.npy` embeds every
`{"text": ...}` line once; a linear reward head (`training.linear_reward`) can then be fitted on
the vectors in milliseconds, which is what makes many-round experiments affordable on a CPU.
`--layer K` pools the hidden states after layer K instead of the last: a sentence encoder's last
layer is trained to match paraphrases, and an earlier one keeps more of the wording (on the demo
corpus, MiniLM's layer 4 lets a linear head learn the gold preferences with far fewer labels).
"""
import time
from pathlib import Path

import numpy as np

from training.configs import EmbedConfig
from training.errors import TrainingUserError
from training.jsonl import iter_jsonl


def mean_pool(hidden, attention_mask):
    """Mean of the token vectors that are not padding.
    hidden: (batch, T, H) float; attention_mask: (batch, T) 0/1 -> (batch, H)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def embed_texts(texts: list[str], *, model: str, batch_size: int = 64, max_length: int = 256,
                device: str = "cpu", layer: int = -1, on_progress=None) -> np.ndarray:
    """L2-normalised mean-pooled embeddings of `texts`: (len(texts), hidden) float32. `layer` picks
    the hidden states to pool: 0 the token embeddings, K those after layer K, -1 the last layer's."""
    import torch
    from transformers import AutoModel

    from training.runtime import load_pretrained, load_tokenizer, resolve_device

    torch_device = resolve_device(device)
    tokenizer = load_tokenizer(model)
    encoder = load_pretrained(AutoModel.from_pretrained, model, "encoder", dtype="float32").to(torch_device).eval()
    layers = encoder.config.num_hidden_layers
    if not -(layers + 1) <= layer <= layers:
        raise TrainingUserError(f"--layer {layer}: {model} has layers 0..{layers} "
                                "(0: the token embeddings; -1: the last)")
    # Batches of similar length waste little compute on padding (several times faster on mixed lengths).
    by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            indices = by_length[start : start + batch_size]
            batch = tokenizer([texts[i] for i in indices], padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt").to(torch_device)
            hidden = encoder(**batch, output_hidden_states=True).hidden_states[layer]
            pooled = mean_pool(hidden, batch["attention_mask"])
            vectors[indices] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
            if on_progress:
                on_progress(min(start + batch_size, len(texts)), len(texts), {})
    return vectors


def embed_command(config: EmbedConfig, on_progress=None) -> dict:
    """The `embed` CLI: reads `{"text"}` JSONL lines, writes an (n, hidden) float32 .npy file."""
    from training.seeding import seed_everything

    texts = []
    for number, row in iter_jsonl(config.data):
        if "text" not in row:
            raise TrainingUserError(f"{config.data}:{number}: expected a JSON object with a \"text\" field")
        texts.append(str(row["text"]))
    seed_everything(config.seed)
    started = time.monotonic()
    vectors = embed_texts(texts, model=config.model, batch_size=config.batch_size, max_length=config.max_length,
                          device=config.device, layer=config.layer, on_progress=on_progress)
    Path(config.output).parent.mkdir(parents=True, exist_ok=True)
    np.save(config.output, vectors)
    return {"n": int(vectors.shape[0]), "dim": int(vectors.shape[1]), "seconds": round(time.monotonic() - started, 2),
            "output": str(config.output)}

"""Build a tiny causal LM from scratch: a byte-level BPE tokenizer trained on a corpus, a small
Llama config, and a short next-token pretraining so that it generates varied text.

No weights can be downloaded here, so this is the base policy of demos and tests.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from training.configs import TinyModelConfig
from training.errors import TrainingUserError
from training.progress import ProgressCallback

DEFAULT_CORPUS = Path(__file__).with_name("default_corpus.txt")
PAD, EOS, BOS = "<|pad|>", "<|endoftext|>", "<|startoftext|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
# Each message: role token, newline, content, EOS. The policy learns to end its turn with EOS.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class TinyModelResult:
    output_dir: Path
    metrics: dict


def read_corpus(path: Path) -> list:
    """Corpus lines: plain text, or JSON objects `{"text": ...}` / `{"messages": [...]}`."""
    documents = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise TrainingUserError(f"{path}:{number}: not valid JSON ({error.msg})") from None
                if isinstance(row.get("messages"), list):
                    documents.append(row["messages"])
                elif isinstance(row.get("text"), str):
                    documents.append(row["text"])
                else:
                    raise TrainingUserError(f"{path}:{number}: a JSON line needs 'text' or 'messages'")
            else:
                documents.append(line)
    if len(documents) < 10:
        raise TrainingUserError(f"{path}: needs at least 10 non-empty lines, found {len(documents)}")
    return documents


def build_tokenizer(documents: list, vocab_size: int, context_length: int):
    """Train a byte-level BPE on the documents and wrap it for transformers (pad, bos, eos, chat template).

    transformers 5 only persists `padding_side`/`model_max_length` given to the constructor.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw_texts = []
    for document in documents:
        if isinstance(document, str):
            raw_texts.append(document)
        else:
            raw_texts.extend(message["content"] for message in document)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS, BOS, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(raw_texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token=PAD,
        eos_token=EOS,
        bos_token=BOS,
        additional_special_tokens=ROLE_TOKENS,
        padding_side="left",  # generation pads prompts on the left
        model_max_length=context_length,
        chat_template=CHAT_TEMPLATE,
    )


def _document_text(document, tokenizer) -> str:
    if isinstance(document, str):
        return document + tokenizer.eos_token
    return tokenizer.apply_chat_template(document, tokenize=False)


def build_tiny_model(config: TinyModelConfig, on_progress: ProgressCallback | None = None) -> TinyModelResult:
    """Build, pretrain and save a tiny Llama-style policy to `config.output`; returns final metrics."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from training.runtime import resolve_device, save_run_metadata
    from training.seeding import seed_everything

    started = time.monotonic()
    seed_everything(config.seed)
    device = resolve_device(config.device)
    documents = read_corpus(Path(config.corpus) if config.corpus else DEFAULT_CORPUS)
    tokenizer = build_tokenizer(documents, config.vocab_size, config.context_length)

    stream = []
    for document in documents:
        stream.extend(tokenizer(_document_text(document, tokenizer), add_special_tokens=False)["input_ids"])
    tokens = torch.tensor(stream, dtype=torch.long)
    if len(tokens) <= config.sequence_length + 1:
        raise TrainingUserError("the corpus is shorter than one training sequence")

    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.context_length,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(model_config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / 20) * 0.5 * (1 + math.cos(math.pi * step / max(1, config.pretrain_steps)))
    )
    generator = torch.Generator().manual_seed(config.seed)
    model.train()
    first_loss = last_loss = float("nan")
    for step in range(config.pretrain_steps):
        starts = torch.randint(0, len(tokens) - config.sequence_length - 1, (config.batch_size,), generator=generator)
        batch = torch.stack([tokens[s : s + config.sequence_length] for s in starts.tolist()]).to(device)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        last_loss = loss.item()
        if step == 0:
            first_loss = last_loss
        if on_progress and (step % 10 == 9 or step == config.pretrain_steps - 1):
            on_progress(step + 1, config.pretrain_steps, {"loss": last_loss})

    model.eval()
    model.generation_config = GenerationConfig(
        do_sample=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id, max_new_tokens=64,
    )
    output_dir = Path(config.output)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir, safe_serialization=True)
    tokenizer.save_pretrained(output_dir)
    metrics = {
        "first_loss": round(first_loss, 4),
        "final_loss": round(last_loss, 4),
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "corpus_tokens": len(tokens),
        "seconds": round(time.monotonic() - started, 1),
    }
    save_run_metadata(output_dir, "tiny-model", config, metrics)
    return TinyModelResult(output_dir=output_dir, metrics=metrics)

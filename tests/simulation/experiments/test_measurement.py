"""Running the training CLI from the synthetic world (`run_training_cli`)."""
import pytest

from simulation.experiments.measurement import MeasurementError, run_training_cli


def test_a_failing_command_with_a_progress_callback_still_says_why(tmp_path):
    data = tmp_path / "texts.jsonl"
    data.write_text('{"text": "fine"}\nnot json\n')
    events = []
    with pytest.raises(MeasurementError, match=r"training embed failed: error: .*texts.jsonl:2: not valid JSON"):
        run_training_cli("embed", ["--model", "unused", "--data", str(data), "--output", str(tmp_path / "out.npy")],
                         on_progress=lambda step, total: events.append((step, total)))
    assert events == []  # it failed before embedding anything

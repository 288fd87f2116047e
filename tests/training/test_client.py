"""training.client: the one way to run `python -m training ...` in a child process (workers and
simulation alike): the progress protocol, one-line errors, cancellation of the whole process group."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from training.client import (
    ProgressEvent,
    TrainingCommandCancelled,
    TrainingCommandError,
    child_environment,
    run_training_command,
)

ROOT = Path(__file__).resolve().parents[2]


def fake_command(body: str) -> list[str]:
    """A stand-in child that speaks the protocol (a Python script, so no model is needed)."""
    return [sys.executable, "-c", "import json, os, subprocess, sys, time\n" + body]


def test_a_real_command_that_fails_says_why_in_one_line(tmp_path):
    data = tmp_path / "texts.jsonl"
    data.write_text('{"text": "fine"}\nnot json\n')
    events = []
    with pytest.raises(TrainingCommandError, match=r"^training embed failed \(invalid input\): .*texts.jsonl:2: not valid JSON") as failure:
        run_training_command("embed", ["--model", "unused", "--data", str(data), "--output", str(tmp_path / "out.npy")],
                             on_progress=events.append)
    assert failure.value.returncode == 2 and failure.value.command == "embed"
    assert events == []  # it failed before embedding anything


def test_progress_events_output_and_the_final_metrics_are_told_apart():
    script = """
for step in (1, 2):
    print(json.dumps({"event": "progress", "progress": step / 2, "step": step, "total": 2, "metrics": {"loss": 1 / step}}), flush=True)
    print(f"reward:  {50 * step}%|#####  | {step}/2 [00:01<00:01]", end="\\r", file=sys.stderr, flush=True)
print("a library printed this", flush=True)
print("WARNING trl: worth reading", file=sys.stderr, flush=True)
print(json.dumps({"accuracy": 0.9}))
"""
    events, output = [], []
    result = run_training_command("reward", argv=fake_command(script), on_progress=events.append,
                                  on_output=lambda stream, line: output.append((stream, line)))
    assert result.metrics == {"accuracy": 0.9} and result.elapsed_seconds > 0
    assert events == [ProgressEvent(0.5, 1, 2, {"loss": 1.0}), ProgressEvent(1.0, 2, 2, {"loss": 0.5})]
    assert ("stdout", "a library printed this") in output and ("stderr", "WARNING trl: worth reading") in output
    assert ("stderr", "reward:  100%|#####  | 2/2 [00:01<00:01]") in output  # redraws split on \r


@pytest.mark.parametrize("body, says", [
    ('print("error: --lr must be positive", file=sys.stderr); sys.exit(2)',
     "training ppo failed (invalid input): --lr must be positive"),
    ('print("Traceback ...", file=sys.stderr); print("ValueError: boom", file=sys.stderr); sys.exit(1)',
     "training ppo failed (exit status 1): ValueError: boom"),
    ('print("ppo:  14%|#  | 1/7", file=sys.stderr, flush=True); os.kill(os.getpid(), 9)',
     "training ppo was stopped by SIGKILL"),
    ('print("done, but no metrics")', "training ppo printed no final metrics (last line: 'done, but no metrics')."),
])
def test_failures_say_why_in_one_line(body, says):
    with pytest.raises(TrainingCommandError) as failure:
        run_training_command("ppo", argv=fake_command(body))
    assert str(failure.value) == says


def test_a_stop_request_ends_the_whole_process_group(tmp_path):
    # Given a command that starts a helper process of its own (as `accelerate launch` does) and runs on
    pid_file = tmp_path / "helper.pid"
    script = f"""
helper = subprocess.Popen(["sleep", "300"])
open({str(pid_file)!r}, "w").write(str(helper.pid))
while True:
    print(json.dumps({{"event": "progress", "progress": 0.1, "step": 1, "total": 10}}), flush=True)
    time.sleep(0.1)
"""
    events, started = [], []
    # When the caller asks it to stop after the first progress event
    begun = time.monotonic()
    with pytest.raises(TrainingCommandCancelled):
        run_training_command("ppo", argv=fake_command(script), on_start=started.append, on_progress=events.append,
                             should_stop=lambda: bool(events), poll_seconds=0.1)
    # Then it stopped within a second or two, helper included
    assert time.monotonic() - begun < 10 and started and events
    helper = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


def test_the_child_runs_offline_and_unbuffered():
    env = child_environment({"PATH": "/usr/bin", "HF_HUB_OFFLINE": "0"})
    assert env["HF_HUB_OFFLINE"] == "1" and env["PYTHONUNBUFFERED"] == "1" and env["PATH"] == "/usr/bin"


def test_the_client_and_jsonl_helpers_import_neither_torch_nor_django():
    # The Celery worker and the web import them: they must stay light.
    probe = ("import sys, training.client, training.jsonl; "
             "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'django', 'numpy') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", "import json; " + probe], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []

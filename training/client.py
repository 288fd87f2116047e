"""Running a training command in a child process: `python -m training <command> ... --progress-json`.

The one way the platform's workers and the synthetic world launch training (standard library only:
the caller never imports torch). The child's stdout carries one JSON progress event per logged
step (`{"event": "progress", ...}`) and, as its last JSON line, the final metrics; a problem the
user can fix is one `error: ...` line on stderr with exit status 2. This module starts the child in
a process group of its own, reads both pipes as they come, hands progress events and other output
to callbacks, polls `should_stop` for cancellation, and returns the final metrics or raises an
error whose message says why in one line.
"""
from __future__ import annotations

import ctypes
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# A terminated child gets this long to exit before SIGKILL.
TERMINATE_GRACE_SECONDS = 10.0
# The exit status of `python -m training` for a problem the user can fix (bad input).
USER_ERROR_STATUS = 2
# A tqdm redraw, e.g. "reward:  40%|████      | 4/10 [00:02<00:03,  1.9it/s, loss=0.6]".
PROGRESS_BAR_LINE = re.compile(r"\d+%\|.*\| *\d+/\d+")
# Output lines kept to explain a failure.
TAIL_LINES = 20
PR_SET_PDEATHSIG = 1


class TrainingCommandError(RuntimeError):
    """The command failed or printed no final metrics; the message is one line for a person."""

    def __init__(self, message: str, *, command: str, returncode: int | None = None, detail: str = ""):
        super().__init__(message)
        self.command = command
        self.returncode = returncode
        self.detail = detail


class TrainingCommandCancelled(Exception):
    """`should_stop` asked for the command to stop; the child was terminated."""


@dataclass(frozen=True)
class ProgressEvent:
    """One logged step: `progress` in 0..1, `step` of `total`, and the step's metrics."""

    progress: float
    step: int
    total: int
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingCommandResult:
    metrics: dict
    elapsed_seconds: float


def child_environment(base: dict | None = None) -> dict:
    """The environment of a training child: the caller's (or `base`), offline (nothing is ever
    downloaded from the hub), quiet, and unbuffered so progress arrives as it happens."""
    env = dict(os.environ if base is None else base)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", TRL_EXPERIMENTAL_SILENCE="1",
               PYTHONUNBUFFERED="1")
    return env


def command_line(command: str, options: Sequence[str]) -> list[str]:
    """`python -m training <command> <options> --progress-json` with this interpreter."""
    return [sys.executable, "-m", "training", command, *options, "--progress-json"]


def progress_event(line: str) -> ProgressEvent | None:
    """The progress event a stdout line holds, or None."""
    payload = _json_object(line)
    if payload is None or payload.get("event") != "progress":
        return None
    return ProgressEvent(progress=float(payload.get("progress") or 0.0), step=int(payload.get("step") or 0),
                         total=int(payload.get("total") or 0), metrics=dict(payload.get("metrics") or {}))


def is_progress_bar(line: str) -> bool:
    """A tqdm redraw on stderr: progress events already say what it says."""
    return bool(PROGRESS_BAR_LINE.search(line))


def run_training_command(
    command: str,
    options: Sequence[str] = (),
    *,
    argv: Sequence[str] | None = None,
    env: dict | None = None,
    cwd: str | Path | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    on_output: Callable[[str, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    poll_seconds: float = 1.0,
) -> TrainingCommandResult:
    """Runs `python -m training <command> <options>` and returns its final metrics.

    `argv` replaces the whole command line (e.g. under `accelerate launch`; it must end with
    `--progress-json`); `env` defaults to `child_environment()`. Callbacks run in the calling
    thread: `on_start(pid)` once the child runs, `on_progress(event)` per progress event,
    `on_output(stream, line)` for every other line ("stdout" or "stderr", progress bars included),
    and `should_stop()` right away and then every `poll_seconds`: True terminates the child's
    process group and raises `TrainingCommandCancelled`. A non-zero exit raises
    `TrainingCommandError` with the child's `error:` line (else its last output line); so does a
    run that printed no final metrics. The child is stopped on any way out of this function.
    """
    argv = list(argv) if argv is not None else command_line(command, options)
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_environment() if env is None else env,
        cwd=None if cwd is None else str(cwd), start_new_session=True, preexec_fn=_die_with_parent,
    )
    lines: queue.Queue = queue.Queue()
    pumps = [threading.Thread(target=_pump_lines, args=(process.stdout, "stdout", lines), daemon=True),
             threading.Thread(target=_pump_lines, args=(process.stderr, "stderr", lines), daemon=True)]
    for pump in pumps:
        pump.start()
    final: dict | None = None
    last_stdout_line = ""
    tail: list[str] = []
    try:
        if on_start is not None:
            on_start(process.pid)
        open_streams = 2
        next_poll = time.monotonic()
        while open_streams:
            if should_stop is not None and time.monotonic() >= next_poll:
                if should_stop():
                    _terminate(process)
                    raise TrainingCommandCancelled(f"training {command} was stopped on request.")
                next_poll = time.monotonic() + poll_seconds
            try:
                stream, line = lines.get(timeout=max(0.05, next_poll - time.monotonic()) if should_stop else None)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            if stream == "stdout":
                last_stdout_line = line
                payload = _json_object(line)
                if payload is not None:
                    event = progress_event(line)
                    if event is None:
                        final = payload
                    elif on_progress is not None:
                        on_progress(event)
                    continue
            if not is_progress_bar(line):
                tail = (tail + [line])[-TAIL_LINES:]
            if on_output is not None:
                on_output(stream, line)
        returncode = process.wait()
    finally:
        # Reached on cancel, on an error in a callback, on Ctrl-C or a Celery time limit.
        _terminate(process)
        for pump in pumps:
            pump.join(timeout=5)
    if returncode != 0:
        raise _failure(command, returncode, tail)
    if final is None:
        raise TrainingCommandError(
            f"training {command} printed no final metrics (last line: {last_stdout_line[:200]!r}).", command=command,
            returncode=returncode)
    return TrainingCommandResult(metrics=final, elapsed_seconds=time.monotonic() - started)


def _failure(command: str, returncode: int, tail: list[str]) -> TrainingCommandError:
    """Why the command failed, in one line: a signal by name, else its `error:` line, else its
    last output line (a traceback's last line names the exception)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return TrainingCommandError(f"training {command} was stopped by {name}", command=command,
                                    returncode=returncode, detail=name)
    errors = [line for line in tail if line.startswith("error:")]
    detail = errors[-1].removeprefix("error:").strip() if errors else (tail[-1].strip() if tail else "no output")
    kind = "invalid input" if returncode == USER_ERROR_STATUS else f"exit status {returncode}"
    return TrainingCommandError(f"training {command} failed ({kind}): {detail}", command=command,
                                returncode=returncode, detail=detail)


def _json_object(line: str) -> dict | None:
    try:
        payload = json.loads(line)
    except json.JSONDecodeError:
        return None
    return payload if isinstance(payload, dict) else None


def _die_with_parent() -> None:
    """In the child: receive SIGKILL when the parent dies, so a killed worker leaves no orphan
    training process holding a GPU. Linux only; elsewhere the child simply outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _text(line: bytes) -> str:
    # NUL (which a model's decoded output may contain) helps no reader, and PostgreSQL text cannot hold it.
    return line.replace(b"\x00", b"").decode("utf-8", "replace")


def _pump_lines(stream, kind: str, sink: queue.Queue) -> None:
    """Reads a pipe until EOF, splitting on newlines and carriage returns (tqdm redraws with \\r);
    a thread per pipe, so a chatty stderr can never block the child while stdout is read."""
    buffer = b""
    while chunk := stream.read1(65536):
        buffer += chunk
        *lines, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
        for line in lines:
            if line.strip():
                sink.put((kind, _text(line)))
    if buffer.strip():
        sink.put((kind, _text(buffer)))
    sink.put((kind, None))


def _terminate(process: subprocess.Popen) -> None:
    """SIGTERM to the child's process group (accelerate spawns one process per GPU), then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

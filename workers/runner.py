"""Runs `python -m training <command> ... --progress-json` for a TrainingJob.

The worker never imports torch: training happens in a child process whose stdout carries one
JSON progress event per step and, as its last line, the final metrics. While it runs, this module
streams progress, metrics and the log tail into the job, beats the job's heart, and polls the job's
status so that a cancel (or the watchdog) stops the child within about a second.
"""
import ctypes
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.services.training_jobs import training_job_beat, training_job_report_progress

# How often the runner writes to the database and checks for a cancel.
POLL_SECONDS = 1.0
# A terminated child gets this long to exit before SIGKILL.
TERMINATE_GRACE_SECONDS = 10.0
# Commands that train (and so may run under `accelerate launch` on several GPUs).
TRAINING_COMMANDS = frozenset({"sft", "reward", "ppo", "dpo", "rloo"})
PR_SET_PDEATHSIG = 1
# A tqdm redraw, e.g. "reward:  40%|████      | 4/10 [00:02<00:03,  1.9it/s, loss=0.6]".
TQDM_LINE = re.compile(r"\d+%\|.*\| *\d+/\d+")


class StepFailed(Exception):
    """The training command failed; the message is meant for the engineer (one line if possible)."""


class StepCancelled(Exception):
    """The job was cancelled (or failed by the watchdog) while its command ran."""


@dataclass(frozen=True)
class CommandResult:
    metrics: dict
    elapsed_seconds: float


def _die_with_parent() -> None:
    """In the child: receive SIGKILL when the worker dies, so a killed worker leaves no orphan
    training process holding a GPU. Linux only; elsewhere the child simply outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _gpu_count() -> int:
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def _free_port() -> int:
    """A port for the launched processes to meet on: two steps on one host (or a test run next
    to a worker) must not both take torchrun's default 29500."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def training_argv(command: str, options: list[str], *, processes: int | None = None) -> list[str]:
    """The full command line: plain Python, or `accelerate launch` for a training command.

    How many processes: `processes` (the project's `training_processes`), else the deployment's
    TRAINING_NUM_PROCESSES, else every GPU when there are several. With ACCELERATE_CONFIG_FILE
    the launch reads that file (DeepSpeed, FSDP, ...) and an explicit count overrides its
    num_processes; without it several processes run as plain DDP (`--multi_gpu`, which on a
    machine without CUDA starts CPU processes over gloo). One process and no config: plain Python.
    """
    plain = [sys.executable, "-m", "training", command, *options, "--progress-json"]
    if command not in TRAINING_COMMANDS:
        return plain
    count = processes or settings.TRAINING_NUM_PROCESSES or None
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    if settings.ACCELERATE_CONFIG_FILE:
        launch += ["--config_file", settings.ACCELERATE_CONFIG_FILE]
        if count:
            launch += ["--num_processes", str(count)]
    else:
        if count is None:
            count = _gpu_count()
        if count <= 1:
            return plain
        launch += ["--multi_gpu", "--num_processes", str(count), "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no"]  # the commands pick their precision
    return [*launch, "--main_process_port", str(_free_port()), "-m", "training", command, *options, "--progress-json"]


def _child_environment() -> dict:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRL_EXPERIMENTAL_SILENCE="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _text(line: bytes) -> str:
    # PostgreSQL text and jsonb cannot hold NUL, which a model's decoded output may contain.
    return line.replace(b"\x00", b"").decode("utf-8", "replace")


def _pump_lines(stream, kind: str, sink: queue.Queue) -> None:
    """Reads a pipe until EOF, splitting on newlines and carriage returns (tqdm redraws with \\r)."""
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


class _JobReporter:
    """Buffers what the child says and writes it to the job at most once per poll."""

    def __init__(self, job_id: int, claimed_at, command: str, progress_span: tuple[float, float]):
        self.job_id = job_id
        self.claimed_at = claimed_at
        self.command = command
        self.low, self.high = progress_span
        self.progress: float | None = None
        self.metrics_entries: list[dict] = []
        self.log_lines: list[str] = []
        self.final: dict | None = None
        self.last_stdout_line = ""
        self.last_stderr_lines: list[str] = []

    def take(self, kind: str, line: str) -> None:
        if kind == "stderr":
            if TQDM_LINE.search(line):
                return  # progress-bar redraws: the job's progress and metrics already say it
            self.log_lines.append(line)
            self.last_stderr_lines = (self.last_stderr_lines + [line])[-20:]
            return
        self.last_stdout_line = line
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            self.log_lines.append(line)
            return
        if isinstance(payload, dict) and payload.get("event") == "progress":
            fraction = float(payload.get("progress") or 0.0)
            self.progress = self.low + (self.high - self.low) * fraction
            self.metrics_entries.append({
                "command": self.command,
                "step": payload.get("step"),
                "total": payload.get("total"),
                **(payload.get("metrics") or {}),
            })
        elif isinstance(payload, dict):
            self.final = payload

    def flush(self) -> bool:
        """Writes what was buffered (or just a heartbeat); False if the job stopped running."""
        log_text = "".join(f"{line}\n" for line in self.log_lines)
        still_running = training_job_report_progress(
            job_id=self.job_id, claimed_at=self.claimed_at, progress=self.progress,
            metrics_entries=self.metrics_entries, log_text=log_text,
        )
        self.metrics_entries, self.log_lines = [], []
        return still_running

    def error_line(self) -> str:
        errors = [line for line in self.last_stderr_lines if line.startswith("error:")]
        if errors:
            return errors[-1].removeprefix("error:").strip()
        return " | ".join(self.last_stderr_lines[-3:]) or "no output"


def run_training_command(*, job, command: str, options: list[str],
                         progress_span: tuple[float, float] = (0.0, 1.0)) -> CommandResult:
    """Runs one training command for the claimed TrainingJob `job` and returns its final metrics.

    `progress_span` maps the command's 0..1 progress into the job's (a step may run several
    commands). Raises StepCancelled when the job stops running meanwhile (the child is
    terminated first), StepFailed when the command exits non-zero or prints no final metrics.
    """
    argv = training_argv(command, options, processes=job.iteration.project.training_processes)
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_environment(),
        cwd=str(Path(settings.BASE_DIR)), start_new_session=True, preexec_fn=_die_with_parent,
    )
    job_id, claimed_at = job.pk, job.started_at
    reporter = _JobReporter(job_id, claimed_at, command, progress_span)
    lines: queue.Queue = queue.Queue()
    pumps = [
        threading.Thread(target=_pump_lines, args=(process.stdout, "stdout", lines), daemon=True),
        threading.Thread(target=_pump_lines, args=(process.stderr, "stderr", lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    open_streams = 2
    cancelled = False
    try:
        if not training_job_beat(job_id=job_id, claimed_at=claimed_at, subprocess_pid=process.pid):
            cancelled = True
        next_flush = time.monotonic() + POLL_SECONDS
        while open_streams and not cancelled:
            try:
                kind, line = lines.get(timeout=max(0.05, next_flush - time.monotonic()))
                if line is None:
                    open_streams -= 1
                else:
                    reporter.take(kind, line)
            except queue.Empty:
                pass
            if time.monotonic() >= next_flush:
                cancelled = not reporter.flush()
                next_flush = time.monotonic() + POLL_SECONDS
        if cancelled:
            _terminate(process)
            raise StepCancelled(f"{command} was stopped: the job is no longer running.")
        returncode = process.wait()
        reporter.flush()
    finally:
        # Reached on cancel, on a Celery soft time limit, or on any error in this loop.
        _terminate(process)
        for pump in pumps:
            pump.join(timeout=5)
    if returncode != 0:
        kind = "invalid input" if returncode == 2 else f"exit status {returncode}"
        raise StepFailed(f"training {command} failed ({kind}): {reporter.error_line()}")
    if reporter.final is None:
        raise StepFailed(f"training {command} printed no final metrics (last line: {reporter.last_stdout_line[:200]!r}).")
    return CommandResult(metrics=reporter.final, elapsed_seconds=time.monotonic() - started)

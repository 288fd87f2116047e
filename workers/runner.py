"""Runs `python -m training <command> ... --progress-json` for a TrainingJob.

The worker never imports torch: `training.client` runs the command in a child process and parses
its progress protocol; this module adds what a job needs: it streams progress, metrics and the log
tail into the job, beats the job's heart, and stops the child within about a second when the job
stops running (a cancel, or the watchdog).
"""
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.services.training_jobs import training_job_beat, training_job_report_progress
from training.client import (
    ProgressEvent,
    TrainingCommandCancelled,
    TrainingCommandError,
    is_progress_bar,
    run_training_command as run_command,
)

# How often the runner writes to the database and checks for a cancel.
POLL_SECONDS = 1.0
# Commands that train (and so may run under `accelerate launch` on several GPUs).
TRAINING_COMMANDS = frozenset({"sft", "reward", "ppo", "dpo", "rloo"})


class StepFailed(Exception):
    """The training command failed; the message is meant for the engineer (one line if possible)."""


class StepCancelled(Exception):
    """The job was cancelled (or failed by the watchdog) while its command ran."""


@dataclass(frozen=True)
class CommandResult:
    metrics: dict
    elapsed_seconds: float


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
        self.heart_beats = True

    def start(self, pid: int) -> None:
        """Records the child's pid on the job (the watchdog and a cancel find it there)."""
        self.heart_beats = training_job_beat(job_id=self.job_id, claimed_at=self.claimed_at, subprocess_pid=pid)

    def take_progress(self, event: ProgressEvent) -> None:
        self.progress = self.low + (self.high - self.low) * event.progress
        self.metrics_entries.append({"command": self.command, "step": event.step, "total": event.total,
                                     **event.metrics})

    def take_output(self, stream: str, line: str) -> None:
        if stream == "stderr" and is_progress_bar(line):
            return  # progress-bar redraws: the job's progress and metrics already say it
        self.log_lines.append(line)

    def flush(self) -> bool:
        """Writes what was buffered (or just a heartbeat); False if the job stopped running."""
        log_text = "".join(f"{line}\n" for line in self.log_lines)
        still_running = training_job_report_progress(
            job_id=self.job_id, claimed_at=self.claimed_at, progress=self.progress,
            metrics_entries=self.metrics_entries, log_text=log_text,
        )
        self.metrics_entries, self.log_lines = [], []
        return still_running

    def should_stop(self) -> bool:
        return not (self.heart_beats and self.flush())


def run_training_command(*, job, command: str, options: list[str],
                         progress_span: tuple[float, float] = (0.0, 1.0)) -> CommandResult:
    """Runs one training command for the claimed TrainingJob `job` and returns its final metrics.

    `progress_span` maps the command's 0..1 progress into the job's (a step may run several
    commands). Raises StepCancelled when the job stops running meanwhile (the child is
    terminated first), StepFailed when the command exits non-zero or prints no final metrics.
    """
    argv = training_argv(command, options, processes=job.iteration.project.training_processes)
    reporter = _JobReporter(job.pk, job.started_at, command, progress_span)
    try:
        result = run_command(
            command, options, argv=argv, cwd=Path(settings.BASE_DIR),
            on_start=reporter.start, on_progress=reporter.take_progress, on_output=reporter.take_output,
            should_stop=reporter.should_stop, poll_seconds=POLL_SECONDS,
        )
    except TrainingCommandCancelled as cancelled:
        raise StepCancelled(f"{command} was stopped: the job is no longer running.") from cancelled
    except TrainingCommandError as error:
        reporter.flush()  # the log tail that explains it
        raise StepFailed(str(error)) from error
    reporter.flush()
    return CommandResult(metrics=result.metrics, elapsed_seconds=result.elapsed_seconds)

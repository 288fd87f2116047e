"""Progress reporting: a tqdm bar on stderr and, with `--progress-json`, one JSON line per step
on stdout (the interface the Celery workers parse)."""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import TextIO

# on_progress(step, total, metrics): what every training entry point calls after a logged step.
ProgressCallback = Callable[[int, int, dict], None]


def _json_safe(metrics: dict) -> dict:
    safe = {}
    for key, value in metrics.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if isinstance(value, (int, float, str, bool)) or value is None:
            safe[key] = value
    return safe


class ProgressReporter:
    """Turns `on_progress` calls into a tqdm bar (stderr) and optional JSON progress events."""

    def __init__(self, description: str, *, emit_json: bool, stdout: TextIO, stderr: TextIO = sys.stderr,
                 enabled: bool = True):
        self.description = description
        self.enabled = enabled  # False on ranks other than 0: one process reports for all
        self.emit_json = emit_json
        self.stdout = stdout
        self.stderr = stderr
        self._bar = None

    def __call__(self, step: int, total: int, metrics: dict) -> None:
        from tqdm import tqdm

        if not self.enabled:
            return
        if self._bar is None:
            self._bar = tqdm(total=total, desc=self.description, file=self.stderr, dynamic_ncols=True)
        self._bar.total = total
        self._bar.n = step
        shown = {k: v for k, v in _json_safe(metrics).items() if isinstance(v, float)}
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in list(shown.items())[:4]}, refresh=False)
        self._bar.refresh()
        if self.emit_json:
            event = {
                "event": "progress",
                "progress": round(min(1.0, step / total), 4) if total else 0.0,
                "step": step,
                "total": total,
                "metrics": _json_safe(metrics),
            }
            self.stdout.write(json.dumps(event) + "\n")
            self.stdout.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def trainer_progress_callback(on_progress: ProgressCallback | None, *, offset_runs: int = 0, runs: int = 1, extra: dict | None = None):
    """A transformers `TrainerCallback` that forwards each logged step to `on_progress`.

    For several sequential runs (an ensemble) the step counts on: run k of n reports
    k * max_steps + step out of n * max_steps.
    """
    from transformers import TrainerCallback

    class ReportProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if on_progress is None or not logs or not any(key in logs for key in ("loss", "reward", "train_loss")):
                return
            metrics = {k: v for k, v in logs.items() if isinstance(v, (int, float))}
            metrics.update(extra or {})
            on_progress(offset_runs * state.max_steps + state.global_step, runs * state.max_steps, metrics)

    return ReportProgress()

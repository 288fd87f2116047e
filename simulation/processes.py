"""The processes a headless loop run starts: a web server (gunicorn) and a Celery worker.

Both get the same database and broker as the calling process (by name, so a test database works
too) and are stopped with their whole process group.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

READY_SECONDS = 120


def database_url() -> str:
    """The URL of the database this process is connected to (the test database under pytest)."""
    database = connection.settings_dict
    if "sqlite" in database["ENGINE"]:
        return f"sqlite:///{database['NAME']}"
    password = database.get("PASSWORD") or ""
    credentials = f"{database.get('USER') or ''}{':' + password if password else ''}"
    host = database.get("HOST") or "127.0.0.1"
    return f"postgres://{credentials}@{host}:{database.get('PORT') or 5432}/{database['NAME']}"


def child_environment(**overrides: str) -> dict:
    """The environment for a server or worker sharing this process's database, broker and artifacts."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.dev"),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    if getattr(settings, "TRAINING_DEVICE", None):
        env["TRAINING_DEVICE"] = settings.TRAINING_DEVICE
    env.update(overrides)
    return env


def free_port(first: int = 0, last: int = 0) -> int:
    """A free TCP port on 127.0.0.1: the first free one in [first, last], or any if first is 0."""
    candidates = range(first, last + 1) if first else [0]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError(f"No free port in {first}-{last}.")


class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, argv: list[str], *, env: dict, log_path: Path):
        self.argv = argv
        self.env = env
        self.log_path = Path(log_path)
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=settings.BASE_DIR, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class WebServer(ManagedProcess):
    """gunicorn serving the platform on 127.0.0.1:port."""

    def __init__(self, *, port: int, env: dict, log_path: Path, workers: int = 2):
        argv = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--threads", "4", "--timeout", "120"]
        super().__init__(argv, env=env, log_path=log_path)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if not self.running():
                break
            try:
                if requests.get(self.url + "/api/health/", timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"The web server did not come up at {self.url}:\n{tail}")


class CeleryWorker(ManagedProcess):
    """A Celery worker consuming the `default` and `gpu` queues."""

    def __init__(self, *, env: dict, log_path: Path):
        argv = [str(Path(sys.executable).parent / "celery"), "-A", "config", "worker", "-Q", "default,gpu",
                "-c", "1", "--loglevel", "INFO", "-n", f"loop-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]
        super().__init__(argv, env=env, log_path=log_path)

    def start(self) -> None:
        super().start()
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if " ready." in self.log_tail(100_000):
                return
            if not self.running():
                break
            time.sleep(0.3)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"The Celery worker did not start:\n{tail}")
